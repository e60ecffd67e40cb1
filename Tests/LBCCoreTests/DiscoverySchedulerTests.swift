import XCTest
@testable import LBCCore

final class DiscoverySchedulerTests: XCTestCase {
    /// Interval 10 s, re-resolution at most every 1 s, error backoff 1 s ×1.6 up to 10 s
    /// without jitter (random 0).
    private func scheduler(intervalMs: Int64 = 10_000, minReresolutionIntervalMs: Int64 = 1_000,
                           useTTL: Bool = false, ttlFloorMs: Int64 = 1_000,
                           random: @escaping @Sendable () -> Double = { 0 }) -> DiscoveryScheduler {
        DiscoveryScheduler(intervalMs: intervalMs, minReresolutionIntervalMs: minReresolutionIntervalMs,
                           useTTL: useTTL, ttlFloorMs: ttlFloorMs,
                           errorBackoff: ConnectionBackoff(initialMs: 1000, multiplier: 1.6, jitter: 0.2,
                                                           maxMs: intervalMs),
                           random: random)
    }

    /// A scheduler whose first resolution started at `startMs`.
    private func started(at startMs: Int64 = 0, intervalMs: Int64 = 10_000, minReresolutionIntervalMs: Int64 = 1_000,
                         useTTL: Bool = false, ttlFloorMs: Int64 = 1_000) -> DiscoveryScheduler {
        var s = scheduler(intervalMs: intervalMs, minReresolutionIntervalMs: minReresolutionIntervalMs,
                          useTTL: useTTL, ttlFloorMs: ttlFloorMs)
        XCTAssertEqual(s.start(nowMs: startMs), .resolveNow)
        return s
    }

    // MARK: start and periodic resolution

    func testStartWhenIdleResolvesNow() {
        var s = scheduler()
        XCTAssertFalse(s.inProgress)
        XCTAssertNil(s.lastStartMs)
        XCTAssertEqual(s.start(nowMs: 500), .resolveNow)
        XCTAssertTrue(s.inProgress)
        XCTAssertEqual(s.lastStartMs, 500)
        XCTAssertNil(s.nextAtMs)
        XCTAssertEqual(s.resolutions, 0)
    }

    func testStartWhenInProgressDoesNothing() {
        var s = started(at: 0)
        XCTAssertEqual(s.start(nowMs: 10), .none)
        XCTAssertEqual(s.lastStartMs, 0)
    }

    func testResolutionSucceededWhenInProgressSchedulesAfterTheInterval() {
        var s = started(at: 0)
        XCTAssertEqual(s.resolutionSucceeded(nowMs: 40, ttlSeconds: nil), .schedule(atMs: 10_040))
        XCTAssertFalse(s.inProgress)
        XCTAssertEqual(s.nextAtMs, 10_040)
        XCTAssertEqual(s.resolutions, 1)
        XCTAssertEqual(s.failures, 0)
    }

    func testTimerFiredWhenArmedResolvesNowAndRepeatsPeriodically() {
        var s = started(at: 0)
        var now: Int64 = 0
        for round in 1...3 {
            now += 25
            XCTAssertEqual(s.resolutionSucceeded(nowMs: now, ttlSeconds: nil), .schedule(atMs: now + 10_000))
            now += 10_000
            XCTAssertEqual(s.timerFired(nowMs: now), .resolveNow)
            XCTAssertTrue(s.inProgress)
            XCTAssertEqual(s.lastStartMs, now)
            XCTAssertNil(s.nextAtMs)
            XCTAssertEqual(s.resolutions, round)
        }
    }

    // MARK: TTL

    func testResolutionSucceededWithTTLSchedulesAfterTheTTL() {
        var s = started(at: 0, useTTL: true, ttlFloorMs: 1_000)
        XCTAssertEqual(s.resolutionSucceeded(nowMs: 100, ttlSeconds: 30), .schedule(atMs: 30_100))
        XCTAssertEqual(s.nextAtMs, 30_100)
        XCTAssertEqual(s.timerFired(nowMs: 30_100), .resolveNow)
        XCTAssertEqual(s.resolutionSucceeded(nowMs: 30_200, ttlSeconds: 2), .schedule(atMs: 32_200))
    }

    func testResolutionSucceededWithTTLBelowTheFloorSchedulesAtTheFloor() {
        var s = started(at: 0, useTTL: true, ttlFloorMs: 2_500)
        XCTAssertEqual(s.resolutionSucceeded(nowMs: 100, ttlSeconds: 0), .schedule(atMs: 2_600))
        XCTAssertEqual(s.timerFired(nowMs: 2_600), .resolveNow)
        XCTAssertEqual(s.resolutionSucceeded(nowMs: 2_700, ttlSeconds: 2), .schedule(atMs: 5_200))
        XCTAssertEqual(s.timerFired(nowMs: 5_200), .resolveNow)
        XCTAssertEqual(s.resolutionSucceeded(nowMs: 5_300, ttlSeconds: 3), .schedule(atMs: 8_300),
                       "a TTL above the floor wins")
    }

    func testResolutionSucceededWithoutATTLUsesTheIntervalEvenWithUseTTL() {
        var s = started(at: 0, useTTL: true)
        XCTAssertEqual(s.resolutionSucceeded(nowMs: 100, ttlSeconds: nil), .schedule(atMs: 10_100))
    }

    func testResolutionSucceededIgnoresTheTTLWhenUseTTLIsOff() {
        var s = started(at: 0, useTTL: false, ttlFloorMs: 100)
        XCTAssertEqual(s.resolutionSucceeded(nowMs: 100, ttlSeconds: 1), .schedule(atMs: 10_100))
        XCTAssertEqual(s.timerFired(nowMs: 10_100), .resolveNow)
        XCTAssertEqual(s.resolutionSucceeded(nowMs: 10_200, ttlSeconds: 3600), .schedule(atMs: 20_200))
    }

    func testResolutionSucceededWithTheLargestTTLDoesNotOverflow() {
        var s = started(at: 0, useTTL: true)
        XCTAssertEqual(s.resolutionSucceeded(nowMs: 0, ttlSeconds: UInt32.max),
                       .schedule(atMs: Int64(UInt32.max) * 1000))
        var late = started(at: 0)
        XCTAssertEqual(late.resolutionSucceeded(nowMs: Int64.max - 5, ttlSeconds: nil), .schedule(atMs: Int64.max))
    }

    // MARK: errors

    func testResolutionFailedWhenInProgressBacksOffAndCapsAtTheInterval() {
        var s = started(at: 0)
        var now: Int64 = 0
        var delays: [Int64] = []
        for _ in 0..<7 {
            guard case let .schedule(atMs) = s.resolutionFailed(nowMs: now) else {
                return XCTFail("resolutionFailed must schedule a retry")
            }
            XCTAssertFalse(s.inProgress)
            XCTAssertEqual(s.nextAtMs, atMs)
            delays.append(atMs - now)
            now = atMs
            XCTAssertEqual(s.timerFired(nowMs: now), .resolveNow)
        }
        XCTAssertEqual(delays, [1000, 1600, 2560, 4096, 6554, 10_000, 10_000])
        XCTAssertEqual(s.failures, 7)
        XCTAssertEqual(s.resolutions, 7)
    }

    func testResolutionFailedAppliesJitter() {
        var s = scheduler(random: { 1 })
        _ = s.start(nowMs: 0)
        XCTAssertEqual(s.resolutionFailed(nowMs: 0), .schedule(atMs: 1_200))
        _ = s.timerFired(nowMs: 1_200)
        XCTAssertEqual(s.resolutionFailed(nowMs: 1_200), .schedule(atMs: 1_200 + 1_920))
    }

    func testResolutionSucceededAfterFailuresResetsTheErrorBackoff() {
        var s = started(at: 0)
        XCTAssertEqual(s.resolutionFailed(nowMs: 0), .schedule(atMs: 1_000))
        XCTAssertEqual(s.timerFired(nowMs: 1_000), .resolveNow)
        XCTAssertEqual(s.resolutionFailed(nowMs: 1_000), .schedule(atMs: 2_600))
        XCTAssertEqual(s.timerFired(nowMs: 2_600), .resolveNow)
        XCTAssertEqual(s.resolutionSucceeded(nowMs: 2_600, ttlSeconds: nil), .schedule(atMs: 12_600))
        XCTAssertEqual(s.timerFired(nowMs: 12_600), .resolveNow)
        XCTAssertEqual(s.resolutionFailed(nowMs: 12_600), .schedule(atMs: 13_600), "back to the initial backoff")
        XCTAssertEqual(s.failures, 3)
        XCTAssertEqual(s.resolutions, 4)
    }

    // MARK: early re-resolution

    func testReresolutionRequestedWhenRateLimitedSchedulesAtTheLimit() {
        var s = started(at: 0)
        XCTAssertEqual(s.resolutionSucceeded(nowMs: 100, ttlSeconds: nil), .schedule(atMs: 10_100))
        XCTAssertEqual(s.reresolutionRequested(nowMs: 400), .schedule(atMs: 1_000))
        XCTAssertEqual(s.nextAtMs, 1_000)
        XCTAssertFalse(s.inProgress)
        XCTAssertEqual(s.reresolutionRequested(nowMs: 600), .none, "already armed for the limit")
        XCTAssertEqual(s.nextAtMs, 1_000)
        XCTAssertEqual(s.timerFired(nowMs: 1_000), .resolveNow)
        XCTAssertEqual(s.lastStartMs, 1_000)
    }

    func testReresolutionRequestedAtTheLimitResolvesNow() {
        var s = started(at: 0)
        XCTAssertEqual(s.resolutionSucceeded(nowMs: 100, ttlSeconds: nil), .schedule(atMs: 10_100))
        XCTAssertEqual(s.reresolutionRequested(nowMs: 999), .schedule(atMs: 1_000))
        XCTAssertEqual(s.reresolutionRequested(nowMs: 1_000), .resolveNow)
        XCTAssertTrue(s.inProgress)
        XCTAssertEqual(s.lastStartMs, 1_000)
        XCTAssertNil(s.nextAtMs)
    }

    func testReresolutionRequestedWhenTheTimerIsEarlierDoesNothing() {
        var s = started(at: 0, minReresolutionIntervalMs: 5_000)
        XCTAssertEqual(s.resolutionFailed(nowMs: 100), .schedule(atMs: 1_100))
        XCTAssertEqual(s.reresolutionRequested(nowMs: 200), .none)
        XCTAssertEqual(s.nextAtMs, 1_100)
        XCTAssertFalse(s.inProgress)
    }

    func testReresolutionRequestedWhenInProgressDoesNothing() {
        var s = started(at: 0, minReresolutionIntervalMs: 0)
        XCTAssertEqual(s.reresolutionRequested(nowMs: 5_000), .none)
        XCTAssertTrue(s.inProgress)
        XCTAssertEqual(s.lastStartMs, 0)
        XCTAssertNil(s.nextAtMs)
    }

    func testReresolutionRequestedWithoutRateLimitResolvesNow() {
        var s = started(at: 0, minReresolutionIntervalMs: 0)
        XCTAssertEqual(s.resolutionSucceeded(nowMs: 0, ttlSeconds: nil), .schedule(atMs: 10_000))
        XCTAssertEqual(s.reresolutionRequested(nowMs: 0), .resolveNow)
    }

    func testReresolutionRequestedBeforeStartResolvesNow() {
        var s = scheduler()
        XCTAssertEqual(s.reresolutionRequested(nowMs: 7), .resolveNow)
        XCTAssertEqual(s.lastStartMs, 7)
        XCTAssertTrue(s.inProgress)
    }

    func testReresolutionRequestedDuringErrorBackoffKeepsTheBackoffGrowing() {
        var s = started(at: 0)
        XCTAssertEqual(s.resolutionFailed(nowMs: 0), .schedule(atMs: 1_000))
        XCTAssertEqual(s.reresolutionRequested(nowMs: 1_000), .resolveNow)
        XCTAssertEqual(s.resolutionFailed(nowMs: 1_000), .schedule(atMs: 2_600))
    }

    // MARK: timer

    func testTimerFiredWhenInProgressDoesNothing() {
        var s = started(at: 0)
        XCTAssertEqual(s.resolutionSucceeded(nowMs: 0, ttlSeconds: nil), .schedule(atMs: 10_000))
        XCTAssertEqual(s.reresolutionRequested(nowMs: 9_990), .resolveNow)
        // The periodic timer is still armed on the owner's side and fires mid-resolution.
        XCTAssertEqual(s.timerFired(nowMs: 10_000), .none)
        XCTAssertTrue(s.inProgress)
        XCTAssertEqual(s.lastStartMs, 9_990)
        XCTAssertEqual(s.resolutions, 1)
        XCTAssertEqual(s.resolutionSucceeded(nowMs: 10_010, ttlSeconds: nil), .schedule(atMs: 20_010))
    }

    // MARK: options

    func testInitFromOptionsUsesTheDiscoveryOptions() throws {
        var options = ChannelOptions()
        try options.set("discovery_interval_ms", "2000")
        try options.set("min_reresolution_interval_ms", "300")
        try options.set("dns_use_ttl", "1")
        try options.set("dns_ttl_floor_ms", "500")
        var s = DiscoveryScheduler(options: options)
        XCTAssertEqual(s.intervalMs, 2_000)
        XCTAssertEqual(s.minReresolutionIntervalMs, 300)
        XCTAssertTrue(s.useTTL)
        XCTAssertEqual(s.ttlFloorMs, 500)
        XCTAssertEqual(s.start(nowMs: 0), .resolveNow)
        XCTAssertEqual(s.resolutionSucceeded(nowMs: 0, ttlSeconds: 0), .schedule(atMs: 500))
        // Retries: 1000 ms ±20 %, then the backoff is capped at the 2 s interval (±20 %).
        var now: Int64 = 500
        var delays: [Int64] = []
        for _ in 0..<4 {
            XCTAssertEqual(s.timerFired(nowMs: now), .resolveNow)
            guard case let .schedule(atMs) = s.resolutionFailed(nowMs: now) else { return XCTFail() }
            delays.append(atMs - now)
            now = atMs
        }
        XCTAssertTrue((800...1_200).contains(delays[0]), "\(delays)")
        XCTAssertTrue((1_280...1_920).contains(delays[1]), "\(delays)")
        XCTAssertTrue((1_600...2_400).contains(delays[2]), "\(delays)")
        XCTAssertTrue((1_600...2_400).contains(delays[3]), "\(delays)")
    }
}
