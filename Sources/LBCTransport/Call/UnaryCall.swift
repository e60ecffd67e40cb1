import LBCCore

/// One unary RPC: a single request message, a single response message.
///
/// Its caller either blocks in `waitForCompletion()` (the thread's reusable futex)
/// or gets the finished call on a `CompletionQueue`.
package final class UnaryCall: Call, @unchecked Sendable {
    /// Length-prefixed request message.
    package let requestFrame: [UInt8]
    var sendOffset = 0
    package var response: [UInt8]?

    /// Where the end is announced: the creating thread's futex, or a queue.
    private let completion: Completion?
    private let queue: CompletionQueue?
    /// The caller's tag for the queue event.
    package let tag: UInt
    /// The channel, for cancelling from another thread (queued calls only).
    private let owner: Channel?
    /// A hedged copy (see ``HedgeGroup``), not the caller's call.
    private var isHedgeCopy = false
    /// The loop of a blocking call (set by `Channel.start` before the call enters the
    /// loop; nil otherwise): the waiting thread polls it for the result when nobody
    /// else does (``EventLoop/lead(until:deadlineNs:onDeadline:registerFollower:)``),
    /// and watches the deadline itself, so no deadline timer is armed on the loop and
    /// starting the call does not wake the loop thread to re-plan its sleep.
    private var waiterLoop: EventLoop?
    /// The caller waits for another poller (guarded by the loop's leadership lock).
    private var isFollower = false
    /// The call ended (guarded by the loop's leadership lock).
    private var endedForWaiter = false

    /// A blocking call: the creating thread waits in `waitForCompletion()`.
    package convenience init(method: String, request: UnsafeRawBufferPointer, metadata: Metadata,
                             timeoutMs: Int64?, maxReceiveMessageSize: Int) {
        self.init(method: method, request: request, metadata: metadata, timeoutMs: timeoutMs,
                  maxReceiveMessageSize: maxReceiveMessageSize, queue: nil, tag: 0, owner: nil)
    }

    /// With a `queue`, the finished call is posted there with `tag` (and `owner`, the
    /// channel it runs on, lets `cancel()` reach it); without one the creating thread
    /// waits for it.
    package init(method: String, request: UnsafeRawBufferPointer, metadata: Metadata,
                 timeoutMs: Int64?, maxReceiveMessageSize: Int, queue: CompletionQueue?, tag: UInt,
                 owner: Channel?) {
        self.owner = owner
        var frame: [UInt8] = []
        frame.reserveCapacity(request.count + 5)
        GRPCFraming.appendFrame(request, to: &frame)
        self.requestFrame = frame
        self.queue = queue
        self.tag = tag
        if queue == nil {
            let completion = Completion.forCurrentThread()
            completion.reset()
            self.completion = completion
        } else {
            self.completion = nil
        }
        super.init(method: method, metadata: metadata, timeoutMs: timeoutMs,
                   maxReceiveMessageSize: maxReceiveMessageSize, singleResponse: true)
    }

    /// A hedged copy of `parent`'s request (loop thread): it tells `group`, not a
    /// caller, when it ends.
    init(copyOf parent: UnaryCall, group: HedgeGroup) {
        self.owner = nil
        self.requestFrame = parent.requestFrame
        self.queue = nil
        self.tag = 0
        self.completion = nil
        self.isHedgeCopy = true
        super.init(copyOf: parent, singleResponse: true)
        self.hedge = group
    }

    /// Block the calling thread until the call has finished. Must be called on the
    /// thread that created the call (its completion is that thread's reusable one).
    /// When the deadline passes first, the waiting thread ends the call on the loop
    /// (``Channel/deadlineExpired(_:)``, as the loop's timer would have) and waits for it.
    package func waitForCompletion() {
        guard let completion else { return }
        guard let loop = waiterLoop else { return completion.wait() }
        let led = loop.lead(until: { finished }, deadlineNs: deadlineNs,
                            onDeadline: { channel?.deadlineExpired(self) },
                            registerFollower: {
                                if endedForWaiter { return false }
                                isFollower = true
                                return true
                            })
        if led { return }
        if let deadline = deadlineNs {
            if completion.wait(untilNs: deadline) { return }
            _ = loop.execute(DeadlineTask(self))  // refused only once the channel closed, which ends the call
        }
        completion.wait()
    }

    /// A blocking call: its waiting thread polls the loop or follows, and watches
    /// the deadline.
    override func prepareWaiter(on loop: EventLoop) -> Bool {
        guard completion != nil, !isHedgeCopy else { return false }
        waiterLoop = loop
        return true
    }

    /// An asynchronous call: its queue's poller may lead `loop` while it is in flight.
    override func bindQueue(to loop: EventLoop) -> Bool {
        guard let queue, !isHedgeCopy else { return false }
        return queue.bind(loop)
    }

    /// End the call with CANCELLED unless it has ended. Any thread; queued calls only.
    package func cancel() {
        guard let owner else { return }
        owner.loop.submit { [self] in owner.cancel(self, dispatched: true) }
    }

    override func complete(_ status: StatusCode, _ message: String) {
        super.complete(status, message)
        if status != .ok { response = nil }
        if let group = hedge {
            if isHedgeCopy {
                group.channel?.hedgeCopyEnded(self, group: group)
                return
            }
            group.channel?.hedgeParentEnded(group)
            hedge = nil  // the group's copies point back at it: let it go
        }
        if let queue {
            queue.post(self)
            return
        }
        waiterLoop?.callEnded {
            endedForWaiter = true
            defer { isFollower = false }
            return isFollower
        }
        completion?.signal()
    }

    override func resetForRetry() {
        super.resetForRetry()
        sendOffset = 0
        response = nil
    }

    override func readBody(into buffer: UnsafeMutablePointer<UInt8>, length: Int,
                           flags: UnsafeMutablePointer<UInt32>) -> Int {
        RequestFrameReader.read(requestFrame, offset: &sendOffset, into: buffer, length: length, flags: flags)
    }

    override func takeBody(_ count: Int, header: UnsafeRawBufferPointer, into queue: inout WriteQueue) -> Bool {
        queue.append(copying: header)
        RequestFrameReader.take(requestFrame, offset: &sendOffset, count: count, into: &queue)
        return true
    }

    override func receiveData(_ chunk: UnsafeRawBufferPointer, session: OpaquePointer,
                              streamID: Int32) -> UInt32? {
        // A unary response is consumed whole: return the window at once.
        NGHTTP2Window.consume(session, streamID: streamID, count: chunk.count)
        switch machine.receivedData(chunk, deliver: { response = $0 }) {
        case .none: return nil
        case .resetStream(let code): return code
        }
    }
}
