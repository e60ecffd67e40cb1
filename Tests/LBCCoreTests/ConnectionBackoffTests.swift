import XCTest
@testable import LBCCore

final class ConnectionBackoffTests: XCTestCase {
    func testNextDelayWithoutJitterGrowsByMultiplierUpToMax() {
        var backoff = ConnectionBackoff()
        let delays = (0..<14).map { _ in backoff.nextDelayMs(random: { 0 }) }
        XCTAssertEqual(delays, [1000, 1600, 2560, 4096, 6554, 10486, 16777, 26844, 42950, 68719, 109951,
                                120_000, 120_000, 120_000])
    }

    func testNextDelayAppliesJitterBounds() {
        var low = ConnectionBackoff()
        var high = ConnectionBackoff()
        XCTAssertEqual(low.nextDelayMs(random: { -1 }), 800)
        XCTAssertEqual(high.nextDelayMs(random: { 1 }), 1200)
        XCTAssertEqual(low.nextDelayMs(random: { -1 }), 1280)
        XCTAssertEqual(high.nextDelayMs(random: { 1 }), 1920)
    }

    func testJitterIsAppliedAfterTheCap() {
        var backoff = ConnectionBackoff(initialMs: 100_000, multiplier: 2, jitter: 0.2, maxMs: 120_000)
        XCTAssertEqual(backoff.nextDelayMs(random: { 1 }), 120_000)
        XCTAssertEqual(backoff.nextDelayMs(random: { 1 }), 144_000)
        XCTAssertEqual(backoff.nextDelayMs(random: { -1 }), 96_000)
    }

    func testRandomDelaysStayWithinJitterBounds() {
        var backoff = ConnectionBackoff()
        var current = 1000.0
        for _ in 0..<30 {
            let delay = backoff.nextDelayMs()
            XCTAssertGreaterThanOrEqual(Double(delay), (current * 0.8).rounded(.down))
            XCTAssertLessThanOrEqual(Double(delay), (current * 1.2).rounded(.up))
            current = min(current * 1.6, 120_000)
        }
    }

    func testOutOfRangeRandomIsClamped() {
        var backoff = ConnectionBackoff()
        XCTAssertEqual(backoff.nextDelayMs(random: { 5 }), 1200)
        XCTAssertEqual(backoff.nextDelayMs(random: { .nan }), 1600)
    }

    func testResetReturnsToInitialBackoff() {
        var backoff = ConnectionBackoff(initialMs: 50, multiplier: 3, jitter: 0, maxMs: 1000)
        XCTAssertEqual(backoff.nextDelayMs(random: { 0 }), 50)
        XCTAssertEqual(backoff.nextDelayMs(random: { 0 }), 150)
        backoff.reset()
        XCTAssertEqual(backoff.nextDelayMs(random: { 0 }), 50)
    }

    func testHugeMaxDoesNotTrap() {
        var backoff = ConnectionBackoff(initialMs: Int64.max / 2, multiplier: 10, jitter: 1, maxMs: Int64.max)
        _ = backoff.nextDelayMs(random: { 1 })
        XCTAssertEqual(backoff.nextDelayMs(random: { 1 }), Int64.max)
    }
}
