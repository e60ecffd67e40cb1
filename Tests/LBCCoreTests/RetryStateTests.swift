import XCTest
@testable import LBCCore

final class RetryStateTests: XCTestCase {
    private let unavailable = RetryPolicy.mask([.unavailable])

    private func policy(attempts: Int = 3, jitter: Double = 1) -> RetryPolicy {
        RetryPolicy(maxAttempts: attempts, initialBackoffMs: 100, maxBackoffMs: 300, backoffMultiplier: 2,
                    jitter: jitter, retryableStatusMask: unavailable)
    }

    private func ended(_ state: inout RetryState, _ status: StatusCode, pushback: RetryState.Pushback? = nil,
                       committed: Bool = false, throttle: inout RetryThrottle?) -> RetryState.Decision {
        var rng = SplitMix64(seed: 1)
        return state.attemptEnded(status: status, pushback: pushback, committed: committed, throttle: &throttle, random: &rng)
    }

    func testRetryableFailureWhenAttemptsRemainIsRetriedWithinTheBackoff() {
        var state = RetryState(policy: policy())
        var throttle: RetryThrottle?
        guard case .retry(let first) = ended(&state, .unavailable, throttle: &throttle) else { return XCTFail() }
        XCTAssertTrue((0...100_000_000).contains(first), "\(first)")
        guard case .retry(let second) = ended(&state, .unavailable, throttle: &throttle) else { return XCTFail() }
        XCTAssertTrue((0...200_000_000).contains(second), "\(second)")
        XCTAssertEqual(state.attempts, 3)
        XCTAssertEqual(ended(&state, .unavailable, throttle: &throttle), .finish)  // the third was the last
    }

    func testBackoffWithoutJitterGrowsByMultiplierUpToMax() {
        let p = policy(jitter: 0)
        var rng = SplitMix64(seed: 9)
        XCTAssertEqual((1...4).map { p.backoffNs(retry: $0, random: &rng) },
                       [100_000_000, 200_000_000, 300_000_000, 300_000_000])
    }

    func testBackoffWithFullJitterIsUniformBelowTheBackoff() {
        let p = policy(jitter: 1)
        var rng = SplitMix64(seed: 3)
        let delays = (0..<2000).map { _ in p.backoffNs(retry: 1, random: &rng) }
        XCTAssertTrue(delays.allSatisfy { (0...100_000_000).contains($0) })
        let mean = Double(delays.reduce(0, +)) / Double(delays.count)
        XCTAssertEqual(mean, 50_000_000, accuracy: 5_000_000)
    }

    func testMaxAttemptsIsClampedToFive() {
        XCTAssertEqual(policy(attempts: 9).maxAttempts, 5)
        XCTAssertEqual(policy(attempts: 1).maxAttempts, 2)
    }

    func testNonRetryableStatusWhenAttemptsRemainFinishes() {
        var state = RetryState(policy: policy())
        var throttle: RetryThrottle? = RetryThrottle(maxTokens: 10, tokenRatio: 0.1)
        XCTAssertEqual(ended(&state, .internalError, throttle: &throttle), .finish)
        XCTAssertEqual(throttle?.milliTokens, 10_000)  // not counted
    }

    func testOKWhenThrottledGivesBackTokens() {
        var state = RetryState(policy: policy())
        var throttle: RetryThrottle? = RetryThrottle(maxTokens: 10, tokenRatio: 0.5)
        for _ in 0..<3 { _ = throttle!.recordFailure() }
        XCTAssertEqual(ended(&state, .ok, throttle: &throttle), .finish)
        XCTAssertEqual(throttle?.milliTokens, 7_500)
    }

    func testRetryableFailureWhenCommittedFinishes() {
        var state = RetryState(policy: policy())
        var throttle: RetryThrottle?
        XCTAssertEqual(ended(&state, .unavailable, committed: true, throttle: &throttle), .finish)
    }

    func testPushbackSetsTheDelayAndInvalidPushbackStops() {
        var state = RetryState(policy: policy())
        var throttle: RetryThrottle?
        XCTAssertEqual(ended(&state, .unavailable, pushback: .delayMs(750), throttle: &throttle), .retry(delayNs: 750_000_000))
        XCTAssertEqual(ended(&state, .unavailable, pushback: .stop, throttle: &throttle), .finish)
        XCTAssertEqual(RetryState.pushback("250"), .delayMs(250))
        XCTAssertEqual(RetryState.pushback("-1"), .stop)
        XCTAssertEqual(RetryState.pushback("soon"), .stop)
        XCTAssertEqual(RetryState.pushback(""), .stop)
        XCTAssertNil(RetryState.pushback(nil))
    }

    func testRetryableFailureWhenThrottleAtHalfFinishes() {
        var throttle: RetryThrottle? = RetryThrottle(maxTokens: 4, tokenRatio: 1)
        var a = RetryState(policy: policy())
        guard case .retry = ended(&a, .unavailable, throttle: &throttle) else { return XCTFail() }  // 3 left > 2
        var b = RetryState(policy: policy())
        XCTAssertEqual(ended(&b, .unavailable, throttle: &throttle), .finish)  // 2 left: not more than half
        XCTAssertEqual(throttle?.milliTokens, 2000)
    }
}
