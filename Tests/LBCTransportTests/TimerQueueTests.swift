import XCTest
@testable import LBCTransport

/// A timer target recording when it fires.
private final class Probe: TimerTarget {
    let id: Int
    var cancelled = false
    let log: (Int) -> Void
    init(_ id: Int, log: @escaping (Int) -> Void) {
        self.id = id
        self.log = log
    }
    func timerFired() { log(id) }
    var timerCancelled: Bool { cancelled }
}

final class TimerQueueTests: XCTestCase {
    func testPopDueReturnsTargetsInDeadlineOrder() {
        var q = TimerQueue()
        var fired: [Int] = []
        for (deadline, id) in [(30, 3), (10, 1), (20, 2), (50, 5)] {
            q.schedule(at: Int64(deadline), Probe(id) { fired.append($0) })
        }
        XCTAssertEqual(q.nextDeadline(), 10)
        for target in q.popDue(nowNs: 30) { target.timerFired() }
        XCTAssertEqual(fired, [1, 2, 3])
        XCTAssertEqual(q.nextDeadline(), 50)
    }

    func testCancelledTargetsDoNotFire() {
        var q = TimerQueue()
        var fired: [Int] = []
        let probe = Probe(1) { fired.append($0) }
        q.schedule(at: 5, probe)
        probe.cancelled = true
        q.noteCancelled()
        XCTAssertNil(q.nextDeadline())
        for target in q.popDue(nowNs: 100) { target.timerFired() }
        XCTAssertEqual(fired, [])
    }

    func testClosureTimerCancelDropsTheAction() {
        var q = TimerQueue()
        var fired = false
        let timer = ClosureTimer { fired = true }
        q.schedule(at: 5, timer)
        timer.cancel()
        for target in q.popDue(nowNs: 100) { target.timerFired() }
        XCTAssertFalse(fired)
    }

    func testEqualDeadlinesFireInScheduleOrder() {
        var q = TimerQueue()
        var fired: [Int] = []
        for id in 0..<20 { q.schedule(at: 7, Probe(id) { fired.append($0) }) }
        for target in q.popDue(nowNs: 7) { target.timerFired() }
        XCTAssertEqual(fired, Array(0..<20))
    }

    func testManyTimersComeOutSorted() {
        var q = TimerQueue()
        var fired: [Int] = []
        for _ in 0..<500 {
            let d = Int.random(in: 0..<10_000)
            q.schedule(at: Int64(d), Probe(d) { fired.append($0) })
        }
        for target in q.popDue(nowNs: 10_000) { target.timerFired() }
        XCTAssertEqual(fired.count, 500)
        XCTAssertEqual(fired, fired.sorted())
    }

    func testCancelledEntriesAreCompactedBehindALongLivedEarlierTimer() {
        // A live timer at the top must not pin every cancelled per-call deadline behind it.
        var q = TimerQueue()
        q.schedule(at: 1, Probe(-1) { _ in })
        for i in 0..<10_000 {
            let probe = Probe(i) { _ in }
            q.schedule(at: Int64(1_000_000 + i), probe)
            probe.cancelled = true
            q.noteCancelled()
        }
        XCTAssertLessThan(q.storedCount, 200, "cancelled timers were not reclaimed")
        XCTAssertEqual(q.nextDeadline(), 1)
    }
}

final class EventLoopTests: XCTestCase {
    func testSubmitRunsWorkOnTheLoopThreadAndTimersFire() throws {
        let loop = try EventLoop()
        try loop.start()
        let done = Completion()
        var order: [String] = []
        loop.submit {
            XCTAssertTrue(loop.inLoopThread)
            order.append("work")
            loop.schedule(at: EventLoop.now() + 20_000_000) {
                order.append("timer")
                done.signal()
            }
        }
        done.wait()
        XCTAssertEqual(order, ["work", "timer"])
        loop.submitFinal {}
        loop.stopAndJoin()
        XCTAssertFalse(loop.submit {}, "submissions after stop must be refused")
    }
}
