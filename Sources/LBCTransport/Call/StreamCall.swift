import Glibc
import LBCCore

/// A call of any shape whose messages move both ways while it runs: the caller
/// sends and receives through a buffer on each side, shared with the loop thread.
///
/// Back-pressure: received messages wait in `received` until the caller takes
/// them, and the stream's HTTP/2 window is returned only for bytes the caller has
/// taken (or that belong to a message still being assembled), so the server can
/// have at most one window in flight. Sent messages wait in `outbound` (a
/// ``SendBuffer``: one copy of each, which nghttp2 sends without copying again), at
/// most `sendBufferLimit` bytes (a single message is always accepted into an empty
/// buffer); nghttp2 takes them as the peer's window allows.
///
/// Threads: the `send*`, `recv`, `wait*`, `cancel` methods run on callers' threads;
/// everything else on the loop thread. State shared between them is guarded by
/// `state`. The caller learns of changes by waiting on `state`'s condition or
/// through a `CompletionQueue`.
package final class StreamCall: Call, QueueWaiting, @unchecked Sendable {
    /// Bits of `takeEventFlags()` (the C API's LBC_CALL_*).
    package enum Event {
        package static let readable: UInt32 = 0x1
        package static let writable: UInt32 = 0x2
        package static let headers: UInt32 = 0x4
        package static let done: UInt32 = 0x8
    }

    /// Work for the loop thread, coalesced into one submitted task.
    private enum Op {
        static let start: UInt8 = 1, resume: UInt8 = 2, consume: UInt8 = 4, cancel: UInt8 = 8
    }

    /// `.freed`: `detach()` was called (lbc_call_free) while this caller waited.
    /// `.refused`: the message failed the request checks (``RequestCheck``); nothing queued.
    package enum SendResult { case queued, wouldBlock, finished, sendClosed, freed, refused(RequestProblem) }
    /// `.taken`: the next message was handed to `take`; `.notTaken`: `take` refused it
    /// (e.g. out of memory) and it stays first in line; `.freed` as for SendResult.
    package enum ReceiveResult { case taken, notTaken, end, wouldBlock, freed }

    private let owner: Channel
    private let queue: CompletionQueue?
    /// The caller's tag for queue events.
    package let tag: UInt
    let sendBufferLimit: Int
    package let maxSendMessageSize: Int
    /// `retry_buffer_bytes`: request bytes kept for a retry until the call commits.
    let retryBufferLimit: Int
    private let windowBytes: Int

    // MARK: shared state (guarded by `state`)
    private let state = Lock()
    private var received = FIFO<[UInt8]>()
    /// Arrays of large messages the caller has taken, for the deframer to reuse.
    private var recycled: [[UInt8]] = []
    /// Wire bytes (prefix included) of the messages in `received`.
    private var queuedWireBytes = 0
    /// The stream's receive-window accounting.
    private var window: StreamReceiveWindow
    private var outbound: SendBuffer
    private var sendClosed = false
    /// nghttp2 was told there is nothing to send (NGHTTP2_ERR_DEFERRED): resume it.
    private var sendDeferred = false
    private var headersReady = false
    private var done = false
    private var pendingOps: UInt8 = Op.start
    private var taskQueued = true  // the start task, submitted by Channel.start
    private var eventFlags: UInt32 = 0
    /// The events posted to the queue (``setPostedEvents(_:)``; `done` always is).
    private var postedEvents: UInt32 = 0xF
    private var eventQueued = false
    /// A send returned wouldBlock: post `writable` when room appears.
    private var writableArmed = false
    private var waiters = 0
    private var publishedPeer: CString?
    private var publishedAttempts: [CString] = []
    /// The response headers as the caller may see them (set once they are complete).
    private var publishedHeaders: Metadata?
    /// `detach()` was called: post nothing more.
    private var detached = false
    /// The waiter polling `ledLoop` for this call and those following it (counted
    /// there as followers; `kick` ends their registration).
    private var loopWaiters = QueueWaiters()
    /// Every request byte sent so far is still in `outbound` (its `retaining`), so the
    /// call can be sent again (a retry, or a transparent retry after REFUSED_STREAM).
    /// Cleared for good when the response headers arrive or the request outgrows
    /// `retryBufferLimit` (gRFC A6: the call is committed).
    private var retaining: Bool { outbound.retaining }
    /// The loop the call's waiting callers lead while they wait (``LoopLeadership``:
    /// a queued call): set by `Channel.start` before the call enters the loop for a
    /// stream without a queue, or on the loop thread once the queue is to get only
    /// the end event (`setPostedEvents`); nil otherwise.
    private var ledLoop: EventLoop?
    /// The switch to a led call was asked for (`setPostedEvents`).
    private var ledRequested = false

    package init(channel: Channel, method: String, metadata: Metadata, timeoutMs: Int64?,
                 queue: CompletionQueue?, tag: UInt) {
        self.owner = channel
        self.queue = queue
        self.tag = tag
        self.sendBufferLimit = channel.options.streamSendBufferBytes
        self.maxSendMessageSize = channel.options.maxSendMessageSize
        self.retryBufferLimit = channel.options.retry.bufferBytes
        self.outbound = SendBuffer(retaining: channel.options.retry.bufferBytes > 0)
        self.windowBytes = channel.options.streamWindowBytes
        self.window = StreamReceiveWindow(windowBytes: channel.options.streamWindowBytes)
        super.init(method: method, metadata: metadata, timeoutMs: timeoutMs,
                   maxReceiveMessageSize: channel.options.maxReceiveMessageSize, singleResponse: false)
    }

    // MARK: caller side

    /// Queue `message` (framed) unless the buffer is full; wait for room until
    /// `deadlineNs` (nil: as long as the call lasts; 0: not at all).
    package func send(_ message: UnsafeRawBufferPointer, end: Bool, deadlineNs: Int64?) -> SendResult {
        do throws(RequestProblem) {
            try RequestCheck.message(length: message.count, limit: maxSendMessageSize)
        } catch {
            return .refused(error)
        }
        state.lock()
        while true {
            if detached { state.unlock(); return .freed }
            // A closed send side is the caller's own doing: report it whatever the call's state.
            if sendClosed { state.unlock(); return .sendClosed }
            if done { state.unlock(); return .finished }
            if hasRoomLocked { break }
            if !waitLocked(until: deadlineNs, for: { hasRoomLocked || sendClosed || done || detached }) {
                writableArmed = true
                state.unlock()
                return .wouldBlock
            }
        }
        outbound.append(message)
        if retaining && outbound.heldBytes > retryBufferLimit { outbound.stopRetaining() }  // committed
        if end { sendClosed = true }
        let submit = resumeLocked()
        state.unlock()
        if submit { submitTask() }
        return .queued
    }

    /// Close the send side once the queued messages are out.
    package func closeSend() {
        state.lock()
        if done || sendClosed { state.unlock(); return }
        sendClosed = true
        let submit = resumeLocked()
        state.unlock()
        if submit { submitTask() }
    }

    /// Hand the next message to `take`, waiting until `deadlineNs` (nil: as long as the
    /// call lasts; 0: not at all). The message is removed only when `take` returns true
    /// (it runs with the call's lock held: copy, do not call back into the call).
    package func receive(deadlineNs: Int64?, _ take: ([UInt8]) -> Bool) -> ReceiveResult {
        state.lock()
        while true {
            if detached { state.unlock(); return .freed }
            if let message = received.first {
                guard take(message) else { state.unlock(); return .notTaken }
                _ = received.popFirst()
                if message.capacity >= SendBuffer.reuseFrom && recycled.count < GRPCMessageDeframer.maxSpares {
                    recycled.append(message)
                }
                let wire = message.count + 5
                queuedWireBytes -= wire
                var submit = false
                if window.taken(wire) && !done { submit = scheduleLocked(Op.consume) }
                state.unlock()
                if submit { submitTask() }
                return .taken
            }
            if done { state.unlock(); return .end }
            if !waitLocked(until: deadlineNs, for: { !received.isEmpty || done || detached }) {
                state.unlock()
                return .wouldBlock
            }
        }
    }

    /// Wait until the response headers arrived (or the call ended, or was detached:
    /// check `isDetached`). False on timeout.
    package func waitForHeaders(deadlineNs: Int64?) -> Bool {
        state.withLockedWait(deadlineNs, owner: self) { headersReady || done || detached }
    }

    /// Wait until the call ended (or was detached: check `isDetached`). False on timeout.
    package func waitForEnd(deadlineNs: Int64?) -> Bool {
        state.withLockedWait(deadlineNs, owner: self) { done || detached }
    }

    /// `detach()` was called.
    package var isDetached: Bool { state.withLock { detached } }

    /// End the call with CANCELLED (unless it has ended). Any thread.
    package func cancel() {
        state.lock()
        if done { state.unlock(); return }
        let submit = scheduleLocked(Op.cancel)
        state.unlock()
        if submit { submitTask() }
    }

    /// The events since the previous call (the queue delivered this call).
    package func takeEventFlags() -> UInt32 {
        state.lock()
        let flags = eventFlags
        eventFlags = 0
        eventQueued = false
        state.unlock()
        return flags
    }

    /// Post only `events` (``Event`` bits) to the queue from now on; `done` always.
    /// With only `done` (its callers take messages with blocking calls), the call's
    /// waiting callers lead the loop from now on, as on a stream without a queue.
    package func setPostedEvents(_ events: UInt32) {
        state.lock()
        postedEvents = events | Event.done
        let lead = events & ~Event.done == 0 && ledLoop == nil && !ledRequested
        if lead { ledRequested = true }
        state.unlock()
        guard lead else { return }
        owner.loop.submit { [self] in
            guard let channel, channel.countWaitersAsLeading(self) else { return }  // ended already
            state.withLock { ledLoop = channel.loop }
        }
    }

    /// The endpoint's address once the stream was opened there.
    package var dispatchedPeer: CString? { state.withLock { publishedPeer } }

    package var isDone: Bool { state.withLock { done } }

    /// True on the channel's I/O thread, where blocking would wait for itself.
    package var onLoopThread: Bool { owner.isLoopThread }

    // MARK: caller-side helpers (lock held)

    /// Wait until `condition` (checked with the lock held) may hold; false once
    /// `deadline` has passed without it (nil: no deadline, 0: do not wait). A blocking
    /// stream's waiter polls the loop meanwhile when nobody else does (`leadLocked`).
    fileprivate func waitLocked(until deadline: Int64?, for condition: () -> Bool) -> Bool {
        if deadline == 0 { return false }
        if let loop = ledLoop { return leadLocked(loop, until: deadline, condition) }
        return waitOnConditionLocked(until: deadline)
    }

    /// Wait on the condition variable; false once `deadline` has passed.
    private func waitOnConditionLocked(until deadline: Int64?) -> Bool {
        waiters += 1
        defer { waiters -= 1 }
        if let deadline { return state.wait(untilNs: deadline) }
        state.wait()
        return true
    }

    /// Wait for `condition` as the loop's leader, or as a follower when another
    /// thread polls (see ``LoopLeadership``). Lock held on entry and on return
    /// (released while leading or registering).
    private func leadLocked(_ loop: EventLoop, until deadline: Int64?, _ condition: () -> Bool) -> Bool {
        state.unlock()
        loop.waitForQueue(self, deadlineNs: deadline, ready: condition, resultOnLeave: condition) {
            state.withLock { if !condition() { _ = waitOnConditionLocked(until: deadline) } }
        }
        state.lock()
        if condition() { return true }
        guard let deadline else { return true }
        return EventLoop.now() < deadline
    }

    package func withWaiters<R>(_ body: (inout QueueWaiters) -> R) -> R {
        state.withLock { body(&loopWaiters) }
    }

    /// Lock held: a waiter must be told from outside the lock (``kick()``): followers
    /// are registered, or a thread other than this one leads the loop for the call.
    private func mustKickLocked() -> Bool {
        guard ledLoop != nil else { return false }
        return loopWaiters.hasFollowers || loopWaiters.ledByOther
    }

    /// Lock not held: end the followers' registration (they wake on the condition)
    /// and wake the thread leading the loop for this call if it is not this one (it
    /// sleeps in epoll_wait, and rechecks what it waits for when woken).
    private func kick() {
        let (loop, wakeLeader, release) = state.withLock { (ledLoop, loopWaiters.ledByOther, loopWaiters.hasFollowers) }
        guard let loop else { return }
        if wakeLeader { loop.wakePoller() }
        if release {
            loop.endQueueFollowing(returned: true) { withWaiters { $0.releaseAll() } }
        }
    }

    private func resumeLocked() -> Bool {
        guard sendDeferred else { return false }
        sendDeferred = false
        return scheduleLocked(Op.resume)
    }

    /// Note `op` for the loop; true when the caller must submit the task.
    private func scheduleLocked(_ op: UInt8) -> Bool {
        pendingOps |= op
        if taskQueued { return false }
        taskQueued = true
        return true
    }

    private func submitTask() {
        let loop = owner.loop
        // Without a queue the call is led from its start (`bindQueue`).
        let led = queue == nil || state.withLock { ledLoop != nil }
        if led ? loop.executeForLedCall(self) : loop.execute(self) { return }
        // The loop has stopped: its shutdown finishes every call it has admitted, and
        // a task is only ever asked for after admission (the start task is queued
        // from the beginning), so there is nothing left to do here.
        state.withLock { taskQueued = false }
    }

    /// The caller let go of the call (lbc_call_free): no more queue events, the
    /// buffers go now rather than when the I/O thread last lets go of the call, and
    /// callers blocked in `send`, `receive` or a wait return at once (`.freed`).
    package func detach() {
        state.lock()
        detached = true
        if waiters > 0 { state.broadcast() }
        received.removeAll()
        recycled = []
        queuedWireBytes = 0
        outbound.removeAll()
        eventFlags = 0
        let mustKick = mustKickLocked()
        state.unlock()
        if mustKick { kick() }
        cancel()
        // A poll that took this call's item before the flags were cleared fills its
        // event under the queue's take lock: once that is free, no event of this call
        // is being or will be delivered.
        queue?.quiesce()
    }

    /// Room in the send buffer: it is below its limit, or empty (one message of any
    /// size is always accepted). Lock held.
    private var hasRoomLocked: Bool {
        let pending = outbound.pending
        return pending == 0 || pending < sendBufferLimit
    }

    /// Wake waiters and post `flags` to the queue. Lock held.
    private func notifyLocked(_ flags: UInt32) {
        if postLocked(flags) { state.broadcast() }
    }

    /// Post `flags` to the queue; true when threads wait on the condition: the caller
    /// broadcasts once it has unlocked (a waiter woken while the lock is still held
    /// would block on it at once: two more futex calls per message). Lock held.
    private func postLocked(_ flags: UInt32) -> Bool {
        let flags = flags & postedEvents
        if let queue, flags != 0, !detached {
            eventFlags |= flags
            if !eventQueued { eventQueued = queue.post(self) }
        }
        return waiters > 0
    }

    // MARK: loop side

    override func enteredLoop() {
        state.lock()
        let ops = pendingOps
        pendingOps = 0
        taskQueued = false
        state.unlock()
        guard let channel else { return }  // finished already
        if ops & Op.cancel != 0 {
            channel.cancel(self, dispatched: ops & Op.start == 0)
            return
        }
        if ops & Op.start != 0 { channel.admit(self) }
        if ops & Op.resume != 0, let connection, streamID > 0 { connection.resumeData(streamID) }
        if ops & Op.consume != 0 { returnWindow() }
    }

    override func didDispatch() {
        state.withLock {
            publishedPeer = peerName
            if let peerName { publishedAttempts = earlierPeers + [peerName] }
        }
    }

    /// The endpoint of every attempt so far, in order (the last is `dispatchedPeer`).
    package var dispatchedAttempts: [CString] { state.withLock { publishedAttempts } }

    override func responseHeadersComplete() {
        state.lock()
        if !headersReady {
            headersReady = true
            outbound.stopRetaining()  // committed: the kept request bytes may go
            publishedHeaders = headers
            notifyLocked(Event.headers)
        }
        let mustKick = mustKickLocked()
        state.unlock()
        if mustKick { kick() }
    }

    /// The response headers, once `waitForHeaders` returned true (empty when the call
    /// ended without any).
    package var responseHeaders: Metadata { state.withLock { publishedHeaders ?? Metadata() } }

    override func readBody(into buffer: UnsafeMutablePointer<UInt8>, length: Int,
                           flags: UnsafeMutablePointer<UInt32>) -> Int {
        state.lock()
        var mustKick = false
        defer {
            state.unlock()
            if mustKick { kick() }
        }
        let n = outbound.available(upTo: length)
        let last = n == outbound.pending
        if n >= WriteQueue.copyBelow {
            flags.pointee |= NGHTTP2DataFlags.noCopy
        } else if n > 0 {
            outbound.copy(n, into: UnsafeMutableRawPointer(buffer))
            if notifyWritableLocked() { mustKick = mustKickLocked() }
        }
        if last && sendClosed {
            flags.pointee |= NGHTTP2DataFlags.eof
            return n
        }
        if n == 0 {
            sendDeferred = true
            return NGHTTP2DataFlags.deferred
        }
        return n
    }

    override func takeBody(_ count: Int, header: UnsafeRawBufferPointer, into queue: inout WriteQueue) -> Bool {
        state.lock()
        // Freed (detach) or ended since readBody announced the bytes: nothing to send.
        guard outbound.pending >= count else {
            state.unlock()
            return false
        }
        queue.append(copying: header)
        outbound.take(count, into: &queue)
        let wake = notifyWritableLocked(broadcast: false)
        let mustKick = wake && mustKickLocked()
        state.unlock()
        if wake { state.broadcast() }
        if mustKick { kick() }
        return true
    }

    /// nghttp2 took bytes: post `writable` to a sender that was refused room, and
    /// wake blocked senders (now, or with `broadcast: false` by the caller once it
    /// has unlocked: the result says whether to). Lock held.
    @discardableResult
    private func notifyWritableLocked(broadcast: Bool = true) -> Bool {
        guard hasRoomLocked && (writableArmed || waiters > 0) else { return false }
        let flag = writableArmed ? Event.writable : 0
        writableArmed = false
        let wake = postLocked(flag)
        if wake && broadcast { state.broadcast() }
        return wake
    }

    override func receiveData(_ chunk: UnsafeRawBufferPointer, session: OpaquePointer,
                              streamID: Int32) -> UInt32? {
        // The connection window is returned at once (one slow stream must not stall
        // the others); the stream's window only as the caller takes messages.
        NGHTTP2Window.consumeConnection(session, count: chunk.count)
        defer { returnWindow(received: chunk.count) }
        if chunk.count >= 4096 { donateRecycled() }
        switch machine.receivedData(chunk, deliver: { deliver($0) }) {
        case .none: return nil
        case .resetStream(let code): return code
        }
    }

    /// Hand the arrays of taken messages to the deframer (a function of its own: the
    /// local list is gone when the deframer next looks for a unique array).
    private func donateRecycled() {
        var buffers: [[UInt8]] = []
        state.lock()
        if !recycled.isEmpty { swap(&buffers, &recycled) }
        state.unlock()
        while let buffer = buffers.popLast() { machine.donateReceiveBuffer(buffer) }
    }

    private func deliver(_ message: [UInt8]) {
        state.lock()
        received.append(message)
        queuedWireBytes += message.count + 5
        let wake = postLocked(Event.readable)
        let mustKick = mustKickLocked()
        state.unlock()
        if wake { state.broadcast() }
        if mustKick { kick() }
    }

    /// Note `received` new bytes and return window for every received byte not
    /// held in `received` (see `StreamReceiveWindow`).
    private func returnWindow(received: Int = 0) {
        let n = state.withLock {
            window.received(received)
            return window.returnable(heldBytes: queuedWireBytes)
        }
        guard n > 0, !finished, let connection, streamID > 0 else { return }
        connection.consumeStreamWindow(streamID, count: n)
    }

    override func committedForRetry() -> Bool {
        state.withLock { !retaining || headersReady }
    }

    override func holdsWholeRequest() -> Bool {
        state.withLock { retaining }
    }

    /// Start the request over from its first byte on a new stream.
    override func resetForRetry() {
        super.resetForRetry()
        state.withLock {
            outbound.rewind()
            sendDeferred = false
            window = StreamReceiveWindow(windowBytes: windowBytes)
        }
    }

    override func complete(_ status: StatusCode, _ message: String) {
        super.complete(status, message)
        state.lock()
        done = true
        outbound.removeAll()
        recycled = []
        var flags = Event.done | Event.readable
        if writableArmed { flags |= Event.writable; writableArmed = false }
        if !headersReady { flags |= Event.headers; headersReady = true; publishedHeaders = Metadata() }
        notifyLocked(flags)
        let mustKick = mustKickLocked()
        state.unlock()
        if mustKick { kick() }
    }

    /// A blocking stream (no queue): its waiting callers may lead `loop`.
    override func bindQueue(to loop: EventLoop) -> Bool {
        guard queue == nil else { return false }
        state.withLock { ledLoop = loop }
        return true
    }
}

extension Lock {
    /// Wait (lock held by this helper) until `condition` holds or the deadline passes.
    fileprivate func withLockedWait(_ deadline: Int64?, owner: StreamCall, _ condition: () -> Bool) -> Bool {
        lock()
        defer { unlock() }
        while !condition() {
            if !owner.waitLocked(until: deadline, for: condition) { return condition() }
        }
        return true
    }
}
