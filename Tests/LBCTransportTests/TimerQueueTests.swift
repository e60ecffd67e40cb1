import XCTest
@testable import LBCTransport

final class TimerQueueTests: XCTestCase {
    func testPopDueReturnsActionsInDeadlineOrder() {
        var q = TimerQueue()
        var fired: [Int] = []
        _ = q.schedule(at: 30) { fired.append(3) }
        _ = q.schedule(at: 10) { fired.append(1) }
        _ = q.schedule(at: 20) { fired.append(2) }
        _ = q.schedule(at: 50) { fired.append(5) }
        XCTAssertEqual(q.nextDeadline(), 10)
        for action in q.popDue(nowNs: 30) { action() }
        XCTAssertEqual(fired, [1, 2, 3])
        XCTAssertEqual(q.nextDeadline(), 50)
    }

    func testCancelWhenScheduledPreventsFiring() {
        var q = TimerQueue()
        var fired = false
        let id = q.schedule(at: 5) { fired = true }
        q.cancel(id)
        XCTAssertNil(q.nextDeadline())
        for action in q.popDue(nowNs: 100) { action() }
        XCTAssertFalse(fired)
    }

    func testManyTimersComeOutSorted() {
        var q = TimerQueue()
        var fired: [Int64] = []
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<500 {
            let d = Int64.random(in: 0..<10_000, using: &rng)
            _ = q.schedule(at: d) { fired.append(d) }
        }
        for action in q.popDue(nowNs: 10_000) { action() }
        XCTAssertEqual(fired.count, 500)
        XCTAssertEqual(fired, fired.sorted())
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
