import LBCCore

/// A channel's log lines kept for polling instead of a callback (the C API's
/// lbc_options_set_log_queue): a runtime that cannot be called from a foreign
/// thread takes them with lbc_channel_next_log after an LBC_EVENT_LOG event.
///
/// Edge-triggered like a stream's READABLE: an event is posted when a line arrives
/// and none is announced yet; after the event has been taken, the next new line
/// announces again. At most `capacity` lines are kept; beyond that the oldest go,
/// and the next line taken says how many were dropped.
package final class LogFeed: @unchecked Sendable {
    /// Most lines kept unread.
    package static let capacity = 1024

    private let queue: CompletionQueue
    /// The caller's tag for the feed's events.
    package let tag: UInt
    private let lock = Lock()
    private var lines = FIFO<(LogLevel, String)>()  // guarded by lock
    private var dropped = 0                          // guarded by lock
    private var eventQueued = false                  // guarded by lock

    package init(queue: CompletionQueue, tag: UInt) {
        self.queue = queue
        self.tag = tag
    }

    /// Keep a line; announce it unless an event is already on its way. Any thread.
    package func append(_ level: LogLevel, _ message: String) {
        lock.lock()
        if lines.count >= Self.capacity {
            _ = lines.popFirst()
            dropped += 1
        }
        lines.append((level, message))
        let announce = !eventQueued
        eventQueued = true
        lock.unlock()
        if announce && !queue.post(self) { lock.withLock { eventQueued = false } }
    }

    /// The queue handed out this feed's event: true when lines are pending (else the
    /// event is stale: they were all taken already). Later lines announce again.
    package func takeEvent() -> Bool {
        lock.withLock {
            eventQueued = false
            return !lines.isEmpty || dropped > 0
        }
    }

    /// Hand the next line (first a warning counting dropped lines, if any) to
    /// `take`, under the feed's lock; it is removed only when `take` returns true.
    /// nil when no line is pending, else what `take` returned. Any thread.
    package func next(_ take: (LogLevel, String) -> Bool) -> Bool? {
        lock.withLock {
            if dropped > 0 {
                let taken = take(.warning, "\(dropped) log lines were dropped: more than \(Self.capacity) were not taken")
                if taken { dropped = 0 }
                return taken
            }
            guard let (level, text) = lines.first else { return nil }
            let taken = take(level, text)
            if taken { _ = lines.popFirst() }
            return taken
        }
    }
}
