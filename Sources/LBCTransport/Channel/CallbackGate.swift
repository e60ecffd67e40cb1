/// Knows whether the application's code (a log or lookup callback) is running for
/// a channel, and stops new calls into it once muted. Any thread.
///
/// `lbc_channel_close` uses it to bound only what it must: the teardown of the
/// channel's own code always completes, so close waits for it; only a callback that
/// does not return (a runtime whose global lock the closer holds) makes it give up
/// waiting after `Channel.closeWaitNs`.
final class CallbackGate: @unchecked Sendable {
    private let lock = Lock()
    private var muted = false
    private var running = 0

    /// Run `body` (a call into application code) unless muted; nil when muted.
    func run<T>(_ body: () -> T) -> T? {
        lock.lock()
        if muted { lock.unlock(); return nil }
        running += 1
        lock.unlock()
        let result = body()
        lock.withLock { running -= 1 }
        return result
    }

    /// No callback starts from now on.
    func mute() { lock.withLock { muted = true } }

    /// True while some callback is running.
    var isRunning: Bool { lock.withLock { running > 0 } }
}
