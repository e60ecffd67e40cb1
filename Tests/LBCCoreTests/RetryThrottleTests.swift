import XCTest
@testable import LBCCore

final class RetryThrottleTests: XCTestCase {
    func testFailuresTakeATokenAndSuccessesGiveBackTheRatio() {
        var t = RetryThrottle(maxTokens: 10, tokenRatio: 0.1)
        XCTAssertTrue(t.allowsRetries)
        for _ in 0..<4 { XCTAssertTrue(t.recordFailure()) }   // 6 left
        XCTAssertFalse(t.recordFailure())                      // 5: not more than half
        t.recordSuccess()                                      // 5.1
        XCTAssertTrue(t.allowsRetries)
        for _ in 0..<20 { _ = t.recordFailure() }
        XCTAssertEqual(t.milliTokens, 0)
        for _ in 0..<200 { t.recordSuccess() }
        XCTAssertEqual(t.milliTokens, 10_000)                  // capped
    }

    func testRatioKeepsThreeDecimals() {
        XCTAssertEqual(RetryThrottle(maxTokens: 1, tokenRatio: 0.1234).ratioMilliTokens, 123)
        XCTAssertEqual(RetryThrottle(maxTokens: 5000, tokenRatio: 1).maxMilliTokens, 1_000_000)
    }
}
