import Glibc
import XCTest
@testable import LBCTransport

/// Leader/follower on a real loop: a waiting caller polls for its own result while
/// the I/O thread is parked, and timers and submitted work still run without one.
final class EventLoopLeadershipTests: XCTestCase {
    private final class Task: LoopTask {
        let body: () -> Void
        init(_ body: @escaping () -> Void) { self.body = body }
        func runOnLoop() { body() }
    }

    /// Wait (bounded) for `flag()` on this thread.
    private func eventually(_ what: String, _ flag: () -> Bool) {
        let deadline = EventLoop.now() + 5_000_000_000
        while !flag() && EventLoop.now() < deadline { usleep(1_000) }
        XCTAssertTrue(flag(), what)
    }

    func testWaitingCallerLeadsOnceTheIOThreadParksAndTimersRunWithoutCallers() throws {
        let loop = try EventLoop()
        try loop.start()
        let lock = Lock()
        var done = false
        var ranOn: [Bool] = []  // per timer: ran on this (the caller's) thread
        let me = pthread_self()
        let ended = Completion()  // this thread's result, as a blocking call's
        func oneCall() -> Bool {
            lock.withLock { done = false }
            ended.reset()
            // Started like a blocking call: inline when the loop is idle, else queued.
            _ = loop.executeThenLead(Task {
                loop.schedule(at: EventLoop.now() + 2_000_000) {
                    lock.withLock {
                        ranOn.append(pthread_equal(pthread_self(), me) != 0)
                        done = true
                    }
                    ended.signal()
                }
            })
            var followed = false
            let led = loop.lead(until: { lock.withLock { done } }, deadlineNs: nil, onDeadline: {},
                                registerFollower: { followed = true; return false })
            if !led {
                XCTAssertTrue(followed)
                XCTAssertTrue(ended.wait(untilNs: EventLoop.now() + 5_000_000_000), "the I/O thread ran the timer")
            }
            return led
        }
        // The first call follows (the I/O thread polls); then the I/O thread parks
        // for the active caller and the next calls lead.
        var leads = 0
        for _ in 0..<300 {
            if oneCall() { leads += 1 }
            if leads >= 3 && lock.withLock({ ranOn.contains(true) }) { break }
        }
        // Not every call: a follower woken later than the park's grace period finds the
        // I/O thread polling again (a loaded machine), hence up to 300 tries.
        XCTAssertGreaterThan(leads, 0, "a waiting caller should poll for itself while the I/O thread parks")
        XCTAssertTrue(lock.withLock { ranOn.contains(true) }, "timers ran on the leading caller's thread")
        // No caller waits now: a timer must still fire (the I/O thread resumes).
        let fired = Completion()
        loop.submit { loop.schedule(at: EventLoop.now() + 20_000_000) { fired.signal() } }
        XCTAssertTrue(fired.wait(untilNs: EventLoop.now() + 5_000_000_000), "timer without a waiting caller")
        loop.submitFinal {}
        loop.stopAndJoin()
    }

    func testStopWhileACallerLeadsHandsTheFinalWorkToTheIOThread() throws {
        let loop = try EventLoop()
        try loop.start()
        // Make the I/O thread park for a caller, then lead a call that never ends.
        let lock = Lock()
        var done = false
        for _ in 0..<3 {
            lock.withLock { done = false }
            _ = loop.executeThenLead(Task {
                loop.schedule(at: EventLoop.now() + 1_000_000) { lock.withLock { done = true } }
            })
            if !loop.lead(until: { lock.withLock { done } }, deadlineNs: nil, onDeadline: {},
                          registerFollower: { false }) {
                eventually("timer") { lock.withLock { done } }
            }
        }
        var finalRan = false
        let stopper = try Thread.start {
            usleep(50_000)
            loop.submitFinal { finalRan = true }
            loop.stopAndJoin()
        }
        let led = loop.lead(until: { false }, deadlineNs: nil, onDeadline: {}, registerFollower: { false })
        XCTAssertFalse(led, "a stopping loop ends the lead without the result")
        pthread_join(stopper, nil)
        XCTAssertTrue(finalRan, "the I/O thread ran the final work")
    }
}
