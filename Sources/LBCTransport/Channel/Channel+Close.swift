import LBCCore

/// Closing without waiting forever for application code (lbc_channel_close).
///
/// The teardown waits for a running log or lookup callback to return. A runtime
/// with a global lock (Ruby's GVL) can make that never happen: the closing thread
/// holds the lock while it waits, and the callback waits for the lock. So the
/// teardown runs on a helper thread and the closer waits for it at most
/// `closeWaitNs`; past that, callbacks are muted (none starts any more) and the
/// closer returns while the teardown finishes once the callback returns.
extension Channel {
    /// The longest lbc_channel_close waits for the teardown (the header says 2 s).
    package static let closeWaitNs: Int64 = 2_000_000_000

    /// Close the channel; `finished` runs once the teardown is complete (on the
    /// thread that completed it). True when it completed within `boundNs`; false
    /// when this returned first — then no callback of the channel starts any more,
    /// and the one running finishes on its own. Not on one of the channel's own
    /// threads (see `isOwnThread`).
    package func close(waitingAtMostNs boundNs: Int64, finished: @escaping () -> Void) -> Bool {
        let done = Completion()
        do {
            try Thread.startDetached { [self] in
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
        if done.wait(untilNs: EventLoop.now() + boundNs) { return true }
        muteCallbacks()
        return false
    }
}
