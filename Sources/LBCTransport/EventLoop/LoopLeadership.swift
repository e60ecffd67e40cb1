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
/// Completion-queue pollers (`lbc_cq_poll` with a timeout; `CompletionQueue.take`):
/// - An asynchronous unary call whose completion queue is bound to this loop alone
///   (the queue has only ever carried calls of this loop's channel) is a queued call
///   (`queuedCalls`), not a waiterless one: the thread that polls its queue may lead.
///   A queue that has carried calls of two loops is shared: its pollers never lead
///   and wait on the queue as before (they cannot poll two epoll sets at once).
/// - A poller leads (`pollerAsksToLead`) when queued calls are in flight and nobody
///   else polls; it leads until an item is posted to its queue, the queue is closed,
///   its timeout passes or the loop stops. When queued calls are in flight and
///   another thread polls, it follows: it waits on its queue, counted in `followers`
///   until an item is posted there or its wait ends, so the I/O thread does not park
///   while it waits. With no queued call in flight it just waits on its queue,
///   uncounted (an idle event thread must not keep the I/O thread from parking for
///   blocking callers), and the next queued call's start resumes the I/O thread.
/// - A poller whose wait ended with items (it returns them and is expected back:
///   `pollerExpected`) hands over without a wake-up: neither its leaving nor the start
///   of the application's next queued call resumes the parked I/O thread; the I/O
///   thread resumes at its park deadline (at most `graceNs`) if no poller comes back
///   by then. A poller leaving after a timeout, a close or a stop is not expected
///   back: the I/O thread resumes at once when queued calls are still in flight.
///
/// Blocking streams (a streaming call without a completion queue, or whose queue
/// gets only its end event, `lbc_call_set_events(call, 0)`, from then on; its
/// caller waits in `lbc_call_recv`, a blocking `lbc_call_send`, `lbc_call_headers`
/// or `lbc_call_finish`):
/// - They count as queued calls (`queuedCalls`), not waiterless ones, from their
///   start to their end: the thread that waits on one leads (`pollerAsksToLead`)
///   until what it waits for happened (a message, room, the headers, the end), the
///   call was freed, its timeout passed or the loop stops; it follows (counted in
///   `followers` until the call wakes its waiters) when another thread polls.
/// - A waiter whose wait ended with what it waited for is expected back
///   (`pollerExpected`), as a completion-queue poller with items is: work its next
///   send or window update runs inline (`ledCallWork`) does not resume the parked
///   I/O thread, which resumes at its park deadline if nobody leads by then.
/// - Whoever ends a leader's wait from another thread (a cancel or free, a close, a
///   message delivered by inline work) wakes the polling thread (the eventfd).
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
    /// Asynchronous unary calls in flight whose completion queue may be led from.
    package private(set) var queuedCalls = 0
    /// A completion-queue poller returned events and is expected to poll again soon.
    package private(set) var pollerExpected = false
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

    /// What a completion-queue poller does (``pollerAsksToLead(stopping:)``).
    package enum PollerRole: Equatable, Sendable {
        /// It polls the loop until its queue has an item, then `leaderLeaves`.
        case leads
        /// It waits on its queue for another poller, counted in `followers` until an
        /// item is posted there or it stops waiting (`queueFollowersDone`).
        case follows
        /// Nothing of this loop's queued calls is in flight (or the loop is stopping):
        /// it waits on its queue, not counted (the I/O thread may park meanwhile).
        case waits
    }

    /// A completion-queue poller is about to wait (with a timeout). It leads only
    /// while queued calls are in flight and nobody polls.
    package mutating func pollerAsksToLead(stopping: Bool) -> PollerRole {
        // Back (or already waiting): the next queued call's start must not count on it.
        pollerExpected = false
        guard queuedCalls > 0, !stopping else { return .waits }
        return callerAsksToLead(stopping: false) ? .leads : .follows
    }

    /// `count` completion-queue followers stopped waiting; `returned`: because an item
    /// was posted to their queue (they return it and are expected back).
    package mutating func queueFollowersDone(_ count: Int, returned: Bool) {
        followers -= count
        if returned && count > 0 { pollerExpected = true }
    }

    /// An asynchronous call on a queue bound to this loop started (true) or ended
    /// (false); true when the parked I/O thread must resume now: nobody polls and no
    /// poller is expected back (one that is will lead for the call).
    package mutating func queuedCall(started: Bool) -> Bool {
        queuedCalls += started ? 1 : -1
        guard started, !pollerExpected else { return false }
        return needPoller()
    }

    /// Work for a call whose waiter may lead (a queued call, a blocking stream) ran
    /// inline and expects answers: true when the parked I/O thread must resume now
    /// (nobody polls and no waiter is expected back to lead for it).
    package mutating func ledCallWork() -> Bool {
        guard !pollerExpected else { return false }
        return needPoller()
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
    /// `pollerReturns`: the leader is a completion-queue poller whose wait ended with
    /// items (expected back: queued calls in flight do not resume the I/O thread).
    package mutating func leaderLeaves(workPending: Bool, nextTimerNs: Int64?, pollerReturns: Bool = false) -> Bool {
        callerLeads = false
        if pollerReturns { pollerExpected = true }
        if followers > 0 || workPending || (nextTimerNs ?? .max) < parkDeadlineNs
            || (queuedCalls > 0 && !pollerExpected) {
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
        guard callersActive, followers == 0, waiterlessCalls == 0, queuedCalls == 0 || pollerExpected,
              !unparkRequested, !callerLeads else { return false }
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
        // The leader runs timers and events (or a completion-queue poller that led
        // during the last grace period is expected back and will): check back after
        // a grace period.
        let pollerBack = pollerExpected && epoch != epochAtPark && !unparkRequested
        if callerLeads || (pollerBack && nowNs >= parkDeadlineNs) {
            if nowNs >= parkDeadlineNs {
                let (next, overflow) = nowNs.addingReportingOverflow(graceNs)
                parkDeadlineNs = overflow ? .max : next
                if !callerLeads { epochAtPark = epoch }
            }
            return .waitUntil(parkDeadlineNs)
        }
        if unparkRequested {
            unparkRequested = false
            ioThreadPolls = true
            return .resume(checkOnly: false)
        }
        if nowNs >= parkDeadlineNs {
            // No caller led during a whole grace period: stop parking for callers (and
            // stop expecting a poller back).
            if epoch == epochAtPark {
                callersActive = false
                pollerExpected = false
            }
            ioThreadPolls = true
            return .resume(checkOnly: callersActive)
        }
        return .waitUntil(parkDeadlineNs)
    }
}
