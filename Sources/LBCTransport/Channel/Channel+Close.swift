import Glibc
import LBCCore

/// Closing without waiting forever for application code (lbc_channel_close).
///
/// The teardown waits for a running log or lookup callback to return. A runtime
/// with a global lock (Ruby's GVL) can make that never happen: the closing thread
/// holds the lock while it waits, and the callback waits for the lock. So the
/// teardown runs on a helper thread and the closer waits for it; once `closeWaitNs`
/// has passed with an application callback still running, callbacks are muted (none
/// starts any more) and the closer returns while the teardown finishes once the
/// callback returns. Without a running callback it waits until the teardown is done
/// (that is only the channel's own code).
extension Channel {
    /// The longest lbc_channel_close waits for the teardown (the header says 2 s).
    package static let closeWaitNs: Int64 = 2_000_000_000

    /// Close the channel; `finished` runs once the teardown is complete (on the
    /// thread that completed it). True when it completed before this returned; false
    /// when an application callback was still running after `boundNs` and this returned first — then no callback of the channel starts any more,
    /// and the one running finishes on its own. Not on one of the channel's own
    /// threads (see `isOwnThread`).
    package func close(waitingAtMostNs boundNs: Int64, finished: @escaping () -> Void) -> Bool {
        let done = Completion()
        let helper: pthread_t
        do {
            helper = try Thread.start { [self] in
                close()
                finished()
                done.signal()
            }
        } catch {
            // No thread to spare: close here, waiting as long as it takes.
            close()
            finished()
            return true
        }
        // Our own teardown always completes: wait for it as long as no application
        // callback is what it waits for.
        var deadline = EventLoop.now() + boundNs
        while !done.wait(untilNs: deadline) {
            if callbacks.isRunning {
                muteCallbacks()
                pthread_detach(helper)
                return false
            }
            deadline = EventLoop.now() + 100_000_000
        }
        // Joined, not detached: the helper still runs library code after signalling
        // (releasing the channel, leaving the thread), which must not race with a
        // process that exits as soon as lbc_channel_close returns.
        pthread_join(helper, nil)
        return true
    }
}
