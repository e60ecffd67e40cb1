import CLBCShim
import Glibc
import LBCCore

/// Where finished asynchronous calls and stream events are collected for one
/// polling thread. An eventfd is readable exactly while items are pending, so an
/// event loop (asyncio, libuv, epoll) can wait for it; it is signalled once per
/// batch (when the queue goes from empty to non-empty), not once per item.
///
/// Items are `UnaryCall`s (finished) and `StreamCall`s (something changed; their
/// `takeEventFlags()` says what). A stream call is queued at most once at a time.
///
/// A queue that has only carried asynchronous unary calls of one event loop is bound
/// to it (`bind`): a thread waiting in `take` with a timeout then polls that loop
/// itself while calls are in flight and nobody else does, and an item the leading
/// thread posts costs no eventfd write (see ``LoopLeadership`` for the rules; the
/// fd is still readable whenever items are pending once the leader has taken its
/// batch). A queue that carried calls of two loops is shared: its pollers wait on
/// the eventfd.
package final class CompletionQueue: QueueWaiting, @unchecked Sendable {
    private let lock = Lock()
    private var items = FIFO<AnyObject>()   // guarded by lock
    /// The batch handed to `take`'s body (its storage is reused; one taker at a time).
    private var batch: [AnyObject] = []
    private let takeLock = Lock()
    private var closed = false              // guarded by lock
    /// Calls registered with `track` that have not been posted yet, by tag.
    private var tracked: [UInt: AnyObject] = [:]  // guarded by lock
    /// Readable while items are pending. Owned by the queue.
    package let fd: Int32
    /// The eventfd was written and not read back since (guarded by lock).
    private var signaled = false
    /// The loop whose calls this queue carries (guarded by lock; see `bind`).
    private weak var boundLoop: EventLoop?
    /// Calls of two loops were posted here: pollers never lead (guarded by lock).
    private var shared = false
    /// The poller leading `boundLoop` for this queue (its own posts need no eventfd
    /// write) and the pollers following it, waiting on the eventfd (guarded by lock).
    private var waiters = QueueWaiters()

    package init() throws(SystemError) {
        let fd = lbcshim_eventfd()
        if fd < 0 { throw SystemError("eventfd", errno: -fd) }
        self.fd = fd
    }

    deinit { lbcshim_fd_close(fd) }

    /// Append `item`. Any thread. False when the queue has been closed (dropped).
    @discardableResult
    package func post(_ item: AnyObject) -> Bool {
        lock.lock()
        if closed {
            lock.unlock()
            return false
        }
        if let tag = (item as? UnaryCall)?.tag, let known = tracked[tag], known === item {
            tracked[tag] = nil
        }
        items.append(item)
        // The leading poller posting from its own loop work takes the item next.
        let byLeader = waiters.ledByCaller
        var mustSignal = false
        if !byLeader && !signaled {
            signaled = true
            mustSignal = true
        }
        let wakeLeader = waiters.isLed && !byLeader
        // The eventfd wakes the followers; the leader's own item is not signalled (it
        // takes it itself), so its followers keep waiting and stay registered.
        let releaseFollowers = waiters.hasFollowers && !byLeader
        let loop = wakeLeader || releaseFollowers ? boundLoop : nil
        lock.unlock()
        // Signalled after unlocking: on a shared CPU the woken poller would otherwise
        // preempt this thread while it holds the lock, and block on it at once.
        if mustSignal { signal() }
        if let loop {
            if wakeLeader { loop.wakePoller() }
            if releaseFollowers { loop.endQueueFollowing(returned: true) { withWaiters { $0.releaseAll() } } }
        }
        return true
    }

    /// Bind the queue to `loop`, whose channel starts an asynchronous call posting
    /// here: true when pollers may lead it (the queue has carried no other live
    /// loop's calls). Any thread.
    package func bind(_ loop: EventLoop) -> Bool {
        lock.lock()
        defer { lock.unlock() }
        if shared || closed { return false }
        guard let bound = boundLoop else {
            boundLoop = loop
            return true
        }
        if bound === loop { return true }
        shared = true
        return false
    }

    /// Take up to `max` items, waiting up to `timeoutMs` for the first (0: no wait,
    /// < 0: forever). Calls `body` for each outside the lock; returns how many, or
    /// nil once the queue has been closed (also when `close` wakes a waiting take).
    package func take(max: Int, timeoutMs: Int64, _ body: (AnyObject) -> Void) -> Int? {
        let deadline = timeoutMs > 0 ? EventLoop.deadline(afterMs: timeoutMs) : 0
        while true {
            // takeLock guards the reused batch; it is not held while waiting, so a
            // second thread's non-blocking take never waits for a blocking one.
            takeLock.lock()
            lock.lock()
            if closed {
                lock.unlock()
                takeLock.unlock()
                return nil
            }
            if !items.isEmpty {
                let n = items.moveFirst(max, into: &batch)
                if items.isEmpty {
                    if signaled { drain() }
                } else if !signaled {
                    // Left by a leader's posts (no eventfd write): readable while pending.
                    signaled = true
                    signal()
                }
                lock.unlock()
                for item in batch { body(item) }
                batch.removeAll(keepingCapacity: batch.capacity <= 4096)
                takeLock.unlock()
                return n
            }
            // Nothing pending: clear a signal left by a post whose item an earlier take
            // already consumed (a waiting take does so in `waitOnEventFD`; a leading one
            // never waits on the eventfd).
            if timeoutMs == 0 { drain() }
            let loop = timeoutMs != 0 && !shared ? boundLoop : nil
            lock.unlock()
            takeLock.unlock()
            if timeoutMs == 0 { return 0 }
            var waitMs: Int32 = -1
            if timeoutMs > 0 {
                let left = deadline - EventLoop.now()
                if left <= 0 { return 0 }
                waitMs = Int32(clamping: (left + 999_999) / 1_000_000)
            }
            if let loop {
                // Poll the loop for the calls in flight, or follow it (see LoopLeadership).
                loop.waitForQueue(self, deadlineNs: timeoutMs > 0 ? deadline : nil,
                                  ready: { !items.isEmpty || closed }, resultOnLeave: { !items.isEmpty },
                                  wait: { waitOnEventFD(waitMs) })
                continue
            }
            waitOnEventFD(waitMs)
        }
    }

    /// Wait up to `waitMs` (-1: forever) for the eventfd, after clearing a stale
    /// signal when nothing is pending (a pending item or a close returns at once).
    private func waitOnEventFD(_ waitMs: Int32) {
        let wait = lock.withLock {
            if !items.isEmpty || closed { return false }
            drain()
            return true
        }
        guard wait else { return }
        var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        _ = poll(&pfd, 1, waitMs)
    }

    package func withWaiters<R>(_ body: (inout QueueWaiters) -> R) -> R {
        lock.withLock { body(&waiters) }
    }

    /// Remember `call` under its tag until it is posted, so `trackedCall(tag:)` finds it.
    /// A later call with the same tag replaces it.
    package func track(_ call: UnaryCall) {
        lock.withLock { if !closed { tracked[call.tag] = call } }
    }

    /// The tracked call with `tag` that has not been posted yet.
    package func trackedCall(tag: UInt) -> UnaryCall? {
        lock.withLock { tracked[tag] as? UnaryCall }
    }

    /// Wait until no `take` is handing items to its body (returns at once when none
    /// is): after a call stopped posting, no event of it is being delivered either.
    package func quiesce() {
        takeLock.lock()
        takeLock.unlock()
    }

    /// Drop pending items and refuse new ones (the owner let go of the queue).
    package func close() {
        lock.lock()
        closed = true
        let dropped = items
        items.removeAll()
        tracked.removeAll()
        signaled = true
        let led = waiters.isLed ? boundLoop : nil
        lock.unlock()
        // Readable from now on: a take waiting in poll() wakes and sees `closed`, and
        // a take leading the loop is woken to see it.
        signal()
        led?.wakePoller()
        _ = dropped  // released outside the lock
    }

    private func signal() {
        var one: UInt64 = 1
        _ = withUnsafeBytes(of: &one) { write(fd, $0.baseAddress, 8) }
    }

    /// Under lock.
    private func drain() {
        signaled = false
        var value: UInt64 = 0
        _ = withUnsafeMutableBytes(of: &value) { read(fd, $0.baseAddress, 8) }
    }
}
