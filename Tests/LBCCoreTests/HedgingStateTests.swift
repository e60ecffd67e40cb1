import XCTest
@testable import LBCCore

final class HedgingStateTests: XCTestCase {
    private func policy(_ attempts: Int, nonFatal: [StatusCode] = [.unavailable]) -> HedgingPolicy {
        HedgingPolicy(maxAttempts: attempts, delayMs: 50, nonFatalStatusMask: RetryPolicy.mask(nonFatal))
    }

    func testTimerWhenNoAnswerStartsCopiesUpToMax() {
        var h = HedgingState(policy: policy(3))
        var t: RetryThrottle?
        XCTAssertEqual(h.start(), .startAttempt(nextInNs: 50_000_000))
        XCTAssertEqual(h.timerFired(throttle: &t), .startAttempt(nextInNs: 50_000_000))
        XCTAssertEqual(h.timerFired(throttle: &t), .startAttempt(nextInNs: nil))
        XCTAssertEqual(h.timerFired(throttle: &t), .none)
        XCTAssertEqual(h.outstanding, 3)
    }

    func testOKWhenCopiesInFlightCommitsAndLaterEndingsAreIgnored() {
        var h = HedgingState(policy: policy(2))
        var t: RetryThrottle?
        _ = h.start()
        _ = h.timerFired(throttle: &t)
        XCTAssertEqual(h.attemptEnded(status: .ok, pushback: nil, throttle: &t), .commit)
        XCTAssertEqual(h.attemptEnded(status: .cancelled, pushback: nil, throttle: &t), .ignore)
    }

    func testFatalStatusCommits() {
        var h = HedgingState(policy: policy(3))
        var t: RetryThrottle?
        _ = h.start()
        XCTAssertEqual(h.attemptEnded(status: .invalidArgument, pushback: nil, throttle: &t), .commit)
    }

    func testNonFatalWhenNoCopyLeftStartsTheNextAtOnce() {
        var h = HedgingState(policy: policy(2))
        var t: RetryThrottle?
        _ = h.start()
        XCTAssertEqual(h.attemptEnded(status: .unavailable, pushback: nil, throttle: &t), .startAttempt(nextInNs: nil))
        XCTAssertEqual(h.attemptEnded(status: .unavailable, pushback: nil, throttle: &t), .commit)  // last: its status
    }

    func testNonFatalWhenOthersInFlightWaits() {
        var h = HedgingState(policy: policy(3))
        var t: RetryThrottle?
        _ = h.start()
        _ = h.timerFired(throttle: &t)
        XCTAssertEqual(h.attemptEnded(status: .unavailable, pushback: nil, throttle: &t), .none)
        XCTAssertEqual(h.attemptEnded(status: .unavailable, pushback: .delayMs(10), throttle: &t), .rearm(inNs: 10_000_000))
    }

    func testInvalidPushbackStopsNewCopies() {
        var h = HedgingState(policy: policy(3))
        var t: RetryThrottle?
        _ = h.start()
        XCTAssertEqual(h.attemptEnded(status: .unavailable, pushback: .stop, throttle: &t), .commit)
    }

    func testThrottleAtHalfStopsTimerCopies() {
        var h = HedgingState(policy: policy(3))
        var t: RetryThrottle? = RetryThrottle(maxTokens: 2, tokenRatio: 1)
        _ = t!.recordFailure()
        _ = h.start()
        XCTAssertEqual(h.timerFired(throttle: &t), .none)
    }
}
