import XCTest
@testable import LBCTransport

final class LoopLeadershipTests: XCTestCase {
    /// A caller follows while the I/O thread polls; once its call ended the I/O thread
    /// parks, and the next caller leads.
    func testCallerLeadsOnlyWhileTheIOThreadIsParked() {
        var l = LoopLeadership(graceNs: 1_000)
        XCTAssertFalse(l.ioThreadMayPark(nowNs: 0, nextTimerNs: nil), "no blocking caller yet: keep polling")
        XCTAssertFalse(l.callerAsksToLead(stopping: false))
        XCTAssertEqual(l.followers, 1)
        XCTAssertFalse(l.ioThreadMayPark(nowNs: 0, nextTimerNs: nil), "a follower needs the I/O thread")
        l.followerDone()
        XCTAssertTrue(l.ioThreadMayPark(nowNs: 10, nextTimerNs: nil))
        XCTAssertFalse(l.ioThreadPolls)
        XCTAssertEqual(l.parkDeadlineNs, 1_010)
        XCTAssertTrue(l.callerAsksToLead(stopping: false))
        XCTAssertFalse(l.callerAsksToLead(stopping: false), "one leader at a time")
        XCTAssertEqual(l.followers, 1)
        XCTAssertEqual(l.ioThreadWoke(nowNs: 2_000), .waitUntil(3_000), "the leader polls: stay parked")
        XCTAssertTrue(l.leaderLeaves(workPending: false, nextTimerNs: nil), "a follower is left without a poller")
        XCTAssertEqual(l.ioThreadWoke(nowNs: 2_100), .resume(checkOnly: false))
        XCTAssertTrue(l.ioThreadPolls)
    }

    func testParkEndsAtTheNextTimer() {
        var l = LoopLeadership(graceNs: 1_000)
        _ = l.callerAsksToLead(stopping: false)
        l.followerDone()
        XCTAssertTrue(l.ioThreadMayPark(nowNs: 0, nextTimerNs: 400))
        XCTAssertEqual(l.parkDeadlineNs, 400)
        XCTAssertEqual(l.ioThreadWoke(nowNs: 100), .waitUntil(400))
        XCTAssertEqual(l.ioThreadWoke(nowNs: 400), .resume(checkOnly: false),
                       "no caller led since parking: back to polling for good")
        XCTAssertFalse(l.callersActive)
    }

    func testLeaderLeavingWithEarlierTimerOrWorkResumesTheIOThread() {
        var l = LoopLeadership(graceNs: 1_000)
        _ = l.callerAsksToLead(stopping: false)
        l.followerDone()
        XCTAssertTrue(l.ioThreadMayPark(nowNs: 0, nextTimerNs: nil))
        XCTAssertTrue(l.callerAsksToLead(stopping: false))
        XCTAssertFalse(l.leaderLeaves(workPending: false, nextTimerNs: 2_000), "timer after the park deadline")
        XCTAssertTrue(l.callerAsksToLead(stopping: false))
        XCTAssertTrue(l.leaderLeaves(workPending: false, nextTimerNs: 500))
        XCTAssertEqual(l.ioThreadWoke(nowNs: 10), .resume(checkOnly: false))
        XCTAssertFalse(l.ioThreadMayPark(nowNs: 20, nextTimerNs: nil) && l.callerAsksToLead(stopping: true),
                       "a stopping loop has no leader")
        var m = LoopLeadership(graceNs: 1_000)
        _ = m.callerAsksToLead(stopping: false)
        m.followerDone()
        XCTAssertTrue(m.ioThreadMayPark(nowNs: 0, nextTimerNs: nil))
        XCTAssertTrue(m.callerAsksToLead(stopping: false))
        XCTAssertTrue(m.leaderLeaves(workPending: true, nextTimerNs: nil))
    }

    /// Work submitted while nobody polls resumes the parked I/O thread; not while a caller leads.
    func testNeedPollerUnparksOnlyWithoutAPoller() {
        var l = LoopLeadership(graceNs: 1_000)
        XCTAssertFalse(l.needPoller(), "the I/O thread polls")
        _ = l.callerAsksToLead(stopping: false)
        l.followerDone()
        XCTAssertTrue(l.ioThreadMayPark(nowNs: 0, nextTimerNs: nil))
        XCTAssertTrue(l.callerAsksToLead(stopping: false))
        XCTAssertFalse(l.needPoller(), "the leader polls")
        XCTAssertFalse(l.leaderLeaves(workPending: false, nextTimerNs: nil))
        XCTAssertTrue(l.needPoller())
        XCTAssertEqual(l.ioThreadWoke(nowNs: 5), .resume(checkOnly: false))
    }

    /// A grace period in which a caller led: one non-blocking check, then park again.
    func testGraceWithCallersIsACheckOnly() {
        var l = LoopLeadership(graceNs: 1_000)
        _ = l.callerAsksToLead(stopping: false)
        l.followerDone()
        XCTAssertTrue(l.ioThreadMayPark(nowNs: 0, nextTimerNs: nil))
        XCTAssertTrue(l.callerAsksToLead(stopping: false))
        XCTAssertFalse(l.leaderLeaves(workPending: false, nextTimerNs: nil))
        XCTAssertEqual(l.ioThreadWoke(nowNs: 1_000), .resume(checkOnly: true))
        XCTAssertTrue(l.callersActive)
        XCTAssertTrue(l.ioThreadMayPark(nowNs: 1_001, nextTimerNs: nil))
    }

    /// The I/O thread does not park while a call nobody waits for is in flight.
    func testWaiterlessCallsKeepTheIOThreadPolling() {
        var l = LoopLeadership(graceNs: 1_000)
        _ = l.callerAsksToLead(stopping: false)
        l.followerDone()
        XCTAssertFalse(l.waiterlessCall(started: true), "the I/O thread polls already")
        XCTAssertFalse(l.ioThreadMayPark(nowNs: 0, nextTimerNs: nil))
        XCTAssertFalse(l.waiterlessCall(started: false))
        XCTAssertTrue(l.ioThreadMayPark(nowNs: 0, nextTimerNs: nil))
        XCTAssertTrue(l.waiterlessCall(started: true), "started while nobody polls: resume the I/O thread")
        XCTAssertEqual(l.ioThreadWoke(nowNs: 1), .resume(checkOnly: false))
    }

    /// Park the I/O thread for a first poller: it follows while the I/O thread polls,
    /// is released by the post of its item (expected back), and the I/O thread parks.
    private func parkedForPoller(graceNs: Int64 = 1_000) -> LoopLeadership {
        var l = LoopLeadership(graceNs: graceNs)
        XCTAssertFalse(l.queuedCall(started: true), "the I/O thread polls already")
        XCTAssertEqual(l.pollerAsksToLead(stopping: false), .follows, "the I/O thread polls: follow")
        XCTAssertEqual(l.followers, 1)
        XCTAssertFalse(l.ioThreadMayPark(nowNs: 0, nextTimerNs: nil), "a follower waits")
        XCTAssertFalse(l.queuedCall(started: false))
        l.queueFollowersDone(1, returned: true)
        XCTAssertTrue(l.pollerExpected)
        XCTAssertTrue(l.ioThreadMayPark(nowNs: 0, nextTimerNs: nil))
        return l
    }

    /// One outstanding async call polled from one thread: after the first round the
    /// poller leads every call and nothing resumes the parked I/O thread.
    func testQueuePollerLeadsAndHandsOverWithoutAWakeUp() {
        var l = parkedForPoller()
        for round in 0..<3 {
            XCTAssertFalse(l.queuedCall(started: true), "round \(round): the poller is expected back: no wake-up")
            XCTAssertEqual(l.pollerAsksToLead(stopping: false), .leads, "round \(round): nobody polls: the poller leads")
            XCTAssertFalse(l.pollerExpected)
            XCTAssertFalse(l.queuedCall(started: false))
            XCTAssertFalse(l.leaderLeaves(workPending: false, nextTimerNs: nil, pollerReturns: true),
                           "round \(round): leaving with its item: no wake-up")
            XCTAssertTrue(l.pollerExpected)
            XCTAssertFalse(l.ioThreadPolls)
        }
        // Two outstanding: leaving with one still in flight needs no wake-up either.
        XCTAssertFalse(l.queuedCall(started: true))
        XCTAssertFalse(l.queuedCall(started: true))
        XCTAssertEqual(l.pollerAsksToLead(stopping: false), .leads)
        XCTAssertFalse(l.queuedCall(started: false))
        XCTAssertFalse(l.leaderLeaves(workPending: false, nextTimerNs: nil, pollerReturns: true))
        XCTAssertEqual(l.queuedCalls, 1)
    }

    /// A poller that leaves after its timeout (or a close) is not expected back: the
    /// I/O thread resumes at once for the calls still in flight.
    func testQueuePollerTimingOutWhileLeadingResumesTheIOThread() {
        var l = parkedForPoller()
        XCTAssertFalse(l.queuedCall(started: true))
        XCTAssertEqual(l.pollerAsksToLead(stopping: false), .leads)
        XCTAssertTrue(l.leaderLeaves(workPending: false, nextTimerNs: nil, pollerReturns: false),
                      "a call is in flight and nobody will poll for it")
        XCTAssertEqual(l.ioThreadWoke(nowNs: 10), .resume(checkOnly: false))
        XCTAssertFalse(l.ioThreadMayPark(nowNs: 20, nextTimerNs: nil), "not while the call is in flight")
        XCTAssertFalse(l.queuedCall(started: false))
        XCTAssertTrue(l.ioThreadMayPark(nowNs: 30, nextTimerNs: nil), "nothing in flight: park for the poller")
    }

    /// A poller with nothing in flight for it just waits on its queue, uncounted: the
    /// I/O thread may park meanwhile (for blocking callers), and the start of a call
    /// resumes it at once (the poller is not expected back: it is already waiting).
    func testIdlePollerWaitsUncountedAndTheNextCallResumesTheIOThread() {
        var l = parkedForPoller()
        XCTAssertEqual(l.pollerAsksToLead(stopping: false), .waits, "no queued call: wait on the queue")
        XCTAssertFalse(l.pollerExpected)
        XCTAssertEqual(l.followers, 0)
        XCTAssertTrue(l.callerAsksToLead(stopping: false), "a blocking caller still leads meanwhile")
        XCTAssertFalse(l.leaderLeaves(workPending: false, nextTimerNs: nil))
        XCTAssertTrue(l.queuedCall(started: true), "nobody polls and nobody will: resume the I/O thread")
        XCTAssertEqual(l.ioThreadWoke(nowNs: 10), .resume(checkOnly: false))
        XCTAssertFalse(l.ioThreadMayPark(nowNs: 11, nextTimerNs: nil), "the call needs the I/O thread")
        XCTAssertFalse(l.queuedCall(started: false))
        XCTAssertTrue(l.ioThreadMayPark(nowNs: 12, nextTimerNs: nil))
    }

    /// Two pollers: one leads, the other follows; when the leader leaves, the follower
    /// is left without a poller and the I/O thread resumes.
    func testSecondPollerFollowsTheLeader() {
        var l = parkedForPoller()
        XCTAssertFalse(l.queuedCall(started: true))
        XCTAssertFalse(l.queuedCall(started: true))
        XCTAssertEqual(l.pollerAsksToLead(stopping: false), .leads)
        XCTAssertEqual(l.pollerAsksToLead(stopping: false), .follows, "one leader at a time")
        XCTAssertEqual(l.followers, 1)
        XCTAssertFalse(l.queuedCall(started: false))
        XCTAssertTrue(l.leaderLeaves(workPending: false, nextTimerNs: nil, pollerReturns: true),
                      "a follower is left without a poller")
        XCTAssertEqual(l.ioThreadWoke(nowNs: 1), .resume(checkOnly: false))
        l.queueFollowersDone(1, returned: false)
        XCTAssertEqual(l.followers, 0)
    }

    /// A stopping loop has no leader; a poller expected back that never returns is
    /// forgotten after a grace period without any leader, and the I/O thread polls.
    func testPollerNotBackWithinTheGracePeriod() {
        var l = parkedForPoller()
        XCTAssertFalse(l.queuedCall(started: true))
        XCTAssertEqual(l.pollerAsksToLead(stopping: true), .waits, "the loop is stopping: wait on the queue")
        XCTAssertEqual(l.followers, 0)
        var m = parkedForPoller(graceNs: 1_000)
        XCTAssertFalse(m.queuedCall(started: true), "expected back: no wake-up")
        XCTAssertEqual(m.ioThreadWoke(nowNs: 500), .waitUntil(1_000))
        XCTAssertEqual(m.ioThreadWoke(nowNs: 1_000), .resume(checkOnly: false), "nobody came back: poll")
        XCTAssertFalse(m.pollerExpected)
        XCTAssertFalse(m.ioThreadMayPark(nowNs: 1_001, nextTimerNs: nil), "the call needs the I/O thread")
    }

    /// The grace check while a poller that led is away (returning its events) waits
    /// for it instead of polling; a grace period without it leading ends the wait.
    func testGraceCheckWaitsForAPollerThatLedRecently() {
        var l = parkedForPoller(graceNs: 1_000)
        XCTAssertFalse(l.queuedCall(started: true))
        XCTAssertEqual(l.pollerAsksToLead(stopping: false), .leads)
        XCTAssertFalse(l.queuedCall(started: false))
        XCTAssertFalse(l.leaderLeaves(workPending: false, nextTimerNs: nil, pollerReturns: true))
        XCTAssertEqual(l.ioThreadWoke(nowNs: 1_000), .waitUntil(2_000), "it led during the grace period")
        XCTAssertEqual(l.ioThreadWoke(nowNs: 2_000), .resume(checkOnly: false), "not back for a whole grace period")
        XCTAssertFalse(l.pollerExpected)
        XCTAssertFalse(l.callersActive)
    }

    /// A blocking stream ping-pong from one thread (a queued call that lasts): the
    /// receiver leads for each reply, the send between two receives runs inline and
    /// resumes nobody, and a receiver that leaves after its timeout is not expected
    /// back, so the next inline work resumes the I/O thread.
    func testStreamReceiverLeadsAndSendsNeedNoWakeUp() {
        var l = LoopLeadership(graceNs: 1_000)
        XCTAssertFalse(l.queuedCall(started: true), "the stream starts while the I/O thread polls")
        XCTAssertEqual(l.pollerAsksToLead(stopping: false), .follows, "first receive: the I/O thread polls")
        l.queueFollowersDone(1, returned: true)
        XCTAssertTrue(l.ioThreadMayPark(nowNs: 0, nextTimerNs: nil), "the stream's receiver is expected back")
        for round in 0..<3 {
            XCTAssertFalse(l.ledCallWork(), "round \(round): the send runs inline, the receiver comes back")
            XCTAssertEqual(l.pollerAsksToLead(stopping: false), .leads, "round \(round): the receiver leads")
            XCTAssertFalse(l.leaderLeaves(workPending: false, nextTimerNs: nil, pollerReturns: true),
                           "round \(round): leaving with its message: no wake-up")
            XCTAssertFalse(l.ioThreadPolls)
        }
        XCTAssertEqual(l.pollerAsksToLead(stopping: false), .leads)
        XCTAssertTrue(l.leaderLeaves(workPending: false, nextTimerNs: nil, pollerReturns: false),
                      "a receive timed out with the stream in flight: resume the I/O thread")
        XCTAssertFalse(l.pollerExpected)
        XCTAssertTrue(l.unparkRequested, "the I/O thread is resuming")
        XCTAssertEqual(l.ioThreadWoke(nowNs: 10), .resume(checkOnly: false))
        XCTAssertEqual(l.pollerAsksToLead(stopping: false), .follows, "the I/O thread polls again: follow")
        XCTAssertEqual(l.pollerAsksToLead(stopping: true), .waits, "a stopping loop: just wait")
    }

    /// Inline work for a stream whose waiter is not expected back resumes the parked
    /// I/O thread (nobody would read the answer otherwise); with a leader it does not.
    func testLedCallWorkWithoutAnExpectedWaiterResumesTheIOThread() {
        var l = LoopLeadership(graceNs: 1_000)
        XCTAssertFalse(l.callerAsksToLead(stopping: false))
        l.followerDone()
        XCTAssertTrue(l.ioThreadMayPark(nowNs: 0, nextTimerNs: nil), "parked for blocking unary callers")
        XCTAssertFalse(l.pollerExpected)
        XCTAssertTrue(l.callerAsksToLead(stopping: false))
        XCTAssertFalse(l.ledCallWork(), "a caller leads: nobody to resume")
        XCTAssertFalse(l.leaderLeaves(workPending: false, nextTimerNs: nil))
        XCTAssertTrue(l.ledCallWork(), "nobody polls and nobody is expected back: resume")
        XCTAssertTrue(l.unparkRequested)
        XCTAssertEqual(l.ioThreadWoke(nowNs: 10), .resume(checkOnly: false))
    }
}
