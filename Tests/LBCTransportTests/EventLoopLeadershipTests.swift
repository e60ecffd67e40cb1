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

    private final class Item {}

    private func isReadable(_ fd: Int32) -> Bool {
        var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        return poll(&pfd, 1, 0) == 1
    }

    /// A thread waiting on a completion queue bound to the loop polls the loop for a
    /// queued call: the item is posted on the taker's own thread, with no eventfd
    /// write (the queue's fd is never readable); a post from another thread wakes
    /// the leader; a timeout while leading returns 0 and leaves the I/O thread to run
    /// the call.
    func testQueuePollerLeadsTheLoop() throws {
        let loop = try EventLoop()
        try loop.start()
        let queue = try CompletionQueue()
        XCTAssertTrue(queue.bind(loop))
        let me = pthread_self()
        let lock = Lock()
        var postedOnTaker = 0
        var sawReadable = false
        for _ in 0..<300 {
            loop.noteQueuedCall(started: true)
            _ = loop.executeThenLead(Task {
                loop.schedule(at: EventLoop.now() + 1_000_000) {
                    let onTaker = pthread_equal(pthread_self(), me) != 0
                    loop.noteQueuedCall(started: false)
                    queue.post(Item())
                    if onTaker && self.isReadable(queue.fd) { lock.withLock { sawReadable = true } }
                    if onTaker { lock.withLock { postedOnTaker += 1 } }
                }
            })
            XCTAssertEqual(queue.take(max: 4, timeoutMs: 5_000) { _ in }, 1)
            if lock.withLock({ postedOnTaker >= 5 }) { break }
        }
        XCTAssertGreaterThanOrEqual(lock.withLock { postedOnTaker }, 5, "the taker should lead the loop")
        XCTAssertFalse(lock.withLock { sawReadable }, "a leader's own post needs no eventfd write")
        XCTAssertFalse(isReadable(queue.fd))
        // A post from another thread wakes the leading taker at once.
        loop.noteQueuedCall(started: true)
        let poster = try Thread.start {
            usleep(50_000)
            queue.post(Item())
        }
        var start = EventLoop.now()
        XCTAssertEqual(queue.take(max: 4, timeoutMs: 5_000) { _ in }, 1)
        XCTAssertLessThan(EventLoop.now() - start, 2_000_000_000, "woken by the other thread's post")
        pthread_join(poster, nil)
        // A timeout while leading: 0, and the I/O thread runs the call's timer.
        let fired = Completion()
        _ = loop.executeThenLead(Task { loop.schedule(at: EventLoop.now() + 100_000_000) { fired.signal() } })
        start = EventLoop.now()
        XCTAssertEqual(queue.take(max: 4, timeoutMs: 20) { _ in }, 0)
        XCTAssertLessThan(EventLoop.now() - start, 1_000_000_000)
        XCTAssertTrue(fired.wait(untilNs: EventLoop.now() + 5_000_000_000), "the timer fired without a poller")
        loop.noteQueuedCall(started: false)
        // A close wakes a leading taker.
        loop.noteQueuedCall(started: true)
        let closer = try Thread.start {
            usleep(50_000)
            queue.close()
        }
        XCTAssertNil(queue.take(max: 4, timeoutMs: 5_000) { _ in })
        pthread_join(closer, nil)
        loop.noteQueuedCall(started: false)
        loop.submitFinal {}
        loop.stopAndJoin()
    }
}
