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
package final class CompletionQueue: @unchecked Sendable {
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

    package init() throws(SystemError) {
        let fd = lbcshim_eventfd()
        if fd < 0 { throw SystemError("eventfd", errno: -fd) }
        self.fd = fd
    }

    deinit { Glibc.close(fd) }

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
        let first = items.count == 1
        lock.unlock()
        // Signalled after unlocking: on a shared CPU the woken poller would otherwise
        // preempt this thread while it holds the lock, and block on it at once.
        if first { signal() }
        return true
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
                if items.isEmpty { drain() }
                lock.unlock()
                for item in batch { body(item) }
                batch.removeAll(keepingCapacity: batch.capacity <= 4096)
                takeLock.unlock()
                return n
            }
            // Nothing pending: clear a signal left by a post whose item an earlier
            // take already consumed, so waiting below does not return at once.
            drain()
            lock.unlock()
            takeLock.unlock()
            if timeoutMs == 0 { return 0 }
            var waitMs: Int32 = -1
            if timeoutMs > 0 {
                let left = deadline - EventLoop.now()
                if left <= 0 { return 0 }
                waitMs = Int32(clamping: (left + 999_999) / 1_000_000)
            }
            var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            _ = poll(&pfd, 1, waitMs)
        }
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
        lock.unlock()
        // Readable from now on: a take waiting in poll() wakes and sees `closed`.
        signal()
        _ = dropped  // released outside the lock
    }

    private func signal() {
        var one: UInt64 = 1
        _ = withUnsafeBytes(of: &one) { write(fd, $0.baseAddress, 8) }
    }

    private func drain() {
        var value: UInt64 = 0
        _ = withUnsafeMutableBytes(of: &value) { read(fd, $0.baseAddress, 8) }
    }
}
