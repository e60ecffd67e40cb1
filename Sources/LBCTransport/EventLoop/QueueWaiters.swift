import Glibc

/// The threads waiting on one completion queue or blocking stream while its loop may be
/// led by a waiting thread (see ``LoopLeadership``): the one leading the loop for it and
/// the followers registered with the loop. Guarded by its owner's lock; the waiting side
/// is ``EventLoop/waitForQueue(_:deadlineNs:ready:resultOnLeave:wait:)``, the posting
/// side reads it to know whom to wake.
package struct QueueWaiters: Sendable {
    /// The pthread leading the loop for the owner, 0 when none.
    private var leaderThread: UInt64 = 0
    /// Followers registered with the loop, and the round a release of all of them ends.
    private var followerCount = 0
    private var followerRound: UInt64 = 0

    /// A thread leads the loop for the owner.
    package var isLed: Bool { leaderThread != 0 }
    /// The calling thread leads it (its own posts need no wake-up).
    package var ledByCaller: Bool { leaderThread != 0 && pthread_equal(pthread_t(leaderThread), pthread_self()) != 0 }
    /// Another thread leads it (a post must wake that leader).
    package var ledByOther: Bool { leaderThread != 0 && !ledByCaller }
    package var hasFollowers: Bool { followerCount > 0 }

    mutating func lead(_ thread: UInt64) { leaderThread = thread }

    /// Register a follower; the round its registration belongs to.
    mutating func register() -> UInt64 {
        followerCount += 1
        return followerRound
    }

    /// A follower of `round` stops waiting by itself: 1, or 0 when a release already ended it.
    mutating func unregister(round: UInt64) -> Int {
        guard round == followerRound, followerCount > 0 else { return 0 }
        followerCount -= 1
        return 1
    }

    /// A post ends every follower's registration: how many there were.
    package mutating func releaseAll() -> Int {
        let n = followerCount
        followerCount = 0
        followerRound &+= 1
        return n
    }
}

/// An owner of ``QueueWaiters`` (a completion queue, a blocking stream).
package protocol QueueWaiting: AnyObject {
    /// `body` on the owner's waiters, with the owner's lock held.
    func withWaiters<R>(_ body: (inout QueueWaiters) -> R) -> R
}

extension EventLoop {
    /// Wait for `owner`'s result as the loop's leader, or as a follower while another
    /// thread leads (``leadForQueue(until:deadlineNs:isReady:registerFollower:began:leaving:)``):
    /// `ready()` (run with the owner's lock held) says the wait is over; `resultOnLeave()`
    /// (lock held) whether a leader leaves with a result to return; `wait()` (lock not
    /// held) waits the owner's own way when this thread does not lead. Returns how it
    /// waited; the caller checks `ready()` again.
    @discardableResult
    package func waitForQueue<Owner: QueueWaiting>(_ owner: Owner, deadlineNs: Int64?, ready: () -> Bool,
                                                   resultOnLeave: () -> Bool, wait: () -> Void) -> QueueWait {
        let me = UInt64(pthread_self())
        var round: UInt64 = 0
        let how = leadForQueue(
            until: { owner.withWaiters { _ in ready() } },
            deadlineNs: deadlineNs,
            isReady: { owner.withWaiters { _ in ready() } },
            registerFollower: { round = owner.withWaiters { $0.register() } },
            began: { owner.withWaiters { $0.lead(me) } },
            leaving: {
                owner.withWaiters {
                    $0.lead(0)
                    return resultOnLeave()
                }
            })
        switch how {
        case .led, .ready:
            break
        case .wait:
            wait()
        case .follow:
            wait()
            endQueueFollowing(returned: false) { owner.withWaiters { $0.unregister(round: round) } }
        }
        return how
    }
}
