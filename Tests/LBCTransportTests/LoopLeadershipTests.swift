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
}
