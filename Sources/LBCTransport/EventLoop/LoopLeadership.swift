/// Who polls an ``EventLoop``'s descriptors (leader/follower), as an I/O-free state.
///
/// Ownership rules of the loop (enforced by `EventLoop`, decided here):
/// - At most one thread polls (runs `epoll_wait` on the loop's epoll set) at a time:
///   the dedicated I/O thread (`ioThreadPolls`) or one blocking caller that waits for
///   its own call's result (`callerLeads`), never both.
/// - Loop work (event handlers, submitted tasks, timers, the flush) always runs under
///   the loop's run lock, by the poller after its `epoll_wait` returns or by a thread
///   running work inline; so loop state never has two writers, whoever polls.
/// - A blocking caller leads only while the I/O thread is parked; otherwise it
///   follows (waits on its call's completion word, counted in `followers`) and the
///   poller completes its call.
/// - The I/O thread parks, instead of polling, only while blocking callers are active,
///   none follows and no call without a waiting caller is in flight (async calls,
///   streams, internal streams: `waiterlessCalls`), and for at most `graceNs` (or until the next timer) at a time:
///   a leader then runs timers and handlers itself. It resumes at once when a follower
///   is left without a leader, when work is submitted or a call started with nobody
///   polling, when a timer falls due, or when the loop is asked to stop; after a grace
///   period without any caller leading, it polls as before.
///
/// All methods are called under the loop's leadership lock.
package struct LoopLeadership: Sendable {
    /// The I/O thread polls (or runs its iteration); false while it is parked.
    package private(set) var ioThreadPolls = true
    /// A blocking caller polls for its result.
    package private(set) var callerLeads = false
    /// Blocking callers waiting on their completion word for another poller.
    package private(set) var followers = 0
    /// Blocking callers have waited recently: the I/O thread may park for them.
    package private(set) var callersActive = false
    /// The parked I/O thread must resume polling.
    package private(set) var unparkRequested = false
    /// When the parked I/O thread wakes up at the latest (monotonic ns).
    package private(set) var parkDeadlineNs = Int64.max
    /// Calls in flight that no blocking caller waits for (async, streams, internal).
    package private(set) var waiterlessCalls = 0
    /// Bumped whenever a caller takes the lead.
    private var epoch: UInt64 = 0
    private var epochAtPark: UInt64 = 0
    /// How long the I/O thread stays parked without a caller leading.
    package let graceNs: Int64

    package init(graceNs: Int64 = 5_000_000) { self.graceNs = graceNs }

    /// A blocking caller's call is in flight and the caller is about to wait: true
    /// when it leads (polls until its call ends, then `leaderLeaves`), false when it
    /// follows (waits on its completion; `followerDone` when the call ends).
    package mutating func callerAsksToLead(stopping: Bool) -> Bool {
        callersActive = true
        if ioThreadPolls || callerLeads || stopping {
            followers += 1
            return false
        }
        callerLeads = true
        epoch &+= 1
        return true
    }

    /// A follower's call ended (it no longer needs a poller).
    package mutating func followerDone() {
        followers -= 1
    }

    /// A call without a waiting caller started (true) or ended (false); true when
    /// nobody polls, so the parked I/O thread must resume.
    package mutating func waiterlessCall(started: Bool) -> Bool {
        waiterlessCalls += started ? 1 : -1
        return started && needPoller()
    }

    /// The leader stops polling (its call ended, or the loop is stopping). True when
    /// the parked I/O thread must resume now: followers wait, work is pending (queued
    /// tasks, a stop), or a timer falls due before the I/O thread's park deadline.
    package mutating func leaderLeaves(workPending: Bool, nextTimerNs: Int64?) -> Bool {
        callerLeads = false
        if followers > 0 || workPending || (nextTimerNs ?? .max) < parkDeadlineNs {
            unparkRequested = true
            return true
        }
        return false
    }

    /// Something needs a poller (work submitted, a call started without a waiting
    /// caller, a stop): true when nobody polls, so the parked I/O thread must resume.
    package mutating func needPoller() -> Bool {
        if ioThreadPolls || callerLeads { return false }
        unparkRequested = true
        return true
    }

    /// The I/O thread finished an iteration with nothing queued: true when it parks
    /// (until `parkDeadlineNs` or `unparkRequested`) instead of polling.
    package mutating func ioThreadMayPark(nowNs: Int64, nextTimerNs: Int64?) -> Bool {
        guard callersActive, followers == 0, waiterlessCalls == 0, !unparkRequested, !callerLeads else { return false }
        ioThreadPolls = false
        epochAtPark = epoch
        let (grace, overflow) = nowNs.addingReportingOverflow(graceNs)
        parkDeadlineNs = min(overflow ? .max : grace, nextTimerNs ?? .max)
        return true
    }

    /// What the parked I/O thread does next.
    package enum Wake: Equatable, Sendable {
        /// Poll again; `checkOnly`: without blocking (a grace period ended while
        /// callers were active: run due timers and events, then park again).
        case resume(checkOnly: Bool)
        /// Stay parked until this time (or a signal).
        case waitUntil(Int64)
    }

    /// The parked I/O thread woke up (signalled or timed out) at `nowNs`.
    package mutating func ioThreadWoke(nowNs: Int64) -> Wake {
        if callerLeads {
            // The leader runs timers and events; check back after a grace period.
            if nowNs >= parkDeadlineNs {
                let (next, overflow) = nowNs.addingReportingOverflow(graceNs)
                parkDeadlineNs = overflow ? .max : next
            }
            return .waitUntil(parkDeadlineNs)
        }
        if unparkRequested {
            unparkRequested = false
            ioThreadPolls = true
            return .resume(checkOnly: false)
        }
        if nowNs >= parkDeadlineNs {
            // No caller led during a whole grace period: stop parking for callers.
            if epoch == epochAtPark { callersActive = false }
            ioThreadPolls = true
            return .resume(checkOnly: callersActive)
        }
        return .waitUntil(parkDeadlineNs)
    }
}
