import XCTest
@testable import LBCCore

final class KeepalivePolicyTests: XCTestCase {
    func testDefaultOptionsTurnKeepaliveOff() {
        let policy = ChannelOptions().keepalive
        XCTAssertFalse(policy.isEnabled)
        XCTAssertEqual(policy.timeMs, 0)
        XCTAssertEqual(policy.timeoutMs, 20_000)
        XCTAssertFalse(policy.permitWithoutCalls)
    }

    func testTooManyPingsWhenEnabledDoublesTheConnectionsTime() {
        var policy = KeepalivePolicy(timeMs: 10_000, timeoutMs: 20_000, permitWithoutCalls: false)
        XCTAssertEqual(policy.tooManyPings(connectionTimeMs: 10_000), 20_000)
        XCTAssertEqual(policy.timeMs, 20_000)
        XCTAssertEqual(policy.configuredTimeMs, 10_000)
        XCTAssertEqual(policy.tooManyPings(connectionTimeMs: 20_000), 40_000)
        XCTAssertEqual(policy.tooManyPingsCount, 2)
    }

    func testTooManyPingsFromSeveralOldConnectionsDoublesOnce() {
        var policy = KeepalivePolicy(timeMs: 10_000, timeoutMs: 20_000, permitWithoutCalls: false)
        // Three connections made with 10 s all hear too_many_pings.
        XCTAssertEqual(policy.tooManyPings(connectionTimeMs: 10_000), 20_000)
        XCTAssertNil(policy.tooManyPings(connectionTimeMs: 10_000))
        XCTAssertNil(policy.tooManyPings(connectionTimeMs: 10_000))
        XCTAssertEqual(policy.timeMs, 20_000)
        XCTAssertEqual(policy.tooManyPingsCount, 3)
    }

    func testTooManyPingsStopsAtTheCap() {
        var policy = KeepalivePolicy(timeMs: KeepalivePolicy.maxTimeMs - 1, timeoutMs: 1000, permitWithoutCalls: false)
        XCTAssertEqual(policy.tooManyPings(connectionTimeMs: policy.timeMs), KeepalivePolicy.maxTimeMs)
        XCTAssertNil(policy.tooManyPings(connectionTimeMs: policy.timeMs))
        XCTAssertEqual(policy.timeMs, KeepalivePolicy.maxTimeMs)
        XCTAssertNil(policy.tooManyPings(connectionTimeMs: Int64.max))
    }

    func testTooManyPingsWhenDisabledOnlyCounts() {
        var policy = KeepalivePolicy(timeMs: 0, timeoutMs: 1000, permitWithoutCalls: false)
        XCTAssertNil(policy.tooManyPings(connectionTimeMs: 0))
        XCTAssertEqual(policy.timeMs, 0)
        XCTAssertFalse(policy.isEnabled)
        XCTAssertEqual(policy.tooManyPingsCount, 1)
    }

    // MARK: options

    private func setError(_ options: inout ChannelOptions, _ key: String, _ value: String,
                          file: StaticString = #filePath, line: UInt = #line) -> OptionError? {
        thrownError({ () throws(OptionError) in try options.set(key, value) }, file: file, line: line)
    }

    func testKeepaliveOptionsParseAndBuildThePolicy() throws {
        var options = ChannelOptions()
        try options.set("keepalive_time_ms", "10000")
        try options.set("keepalive_timeout_ms", "500")
        try options.set("keepalive_permit_without_calls", "true")
        let policy = options.keepalive
        XCTAssertTrue(policy.isEnabled)
        XCTAssertEqual(policy.timeMs, 10_000)
        XCTAssertEqual(policy.timeoutMs, 500)
        XCTAssertTrue(policy.permitWithoutCalls)
        try options.set("keepalive_time_ms", "0")
        XCTAssertFalse(options.keepalive.isEnabled)
    }

    func testKeepaliveOptionsRejectOutOfRangeValuesAndKeepOptions() throws {
        var options = ChannelOptions()
        try options.set("keepalive_time_ms", "100")
        try options.set("keepalive_timeout_ms", "100")
        for (key, value) in [("keepalive_time_ms", "99"), ("keepalive_time_ms", "-1"),
                             ("keepalive_time_ms", "2147483648"), ("keepalive_time_ms", "1e4"),
                             ("keepalive_timeout_ms", "0"), ("keepalive_timeout_ms", "99"),
                             ("keepalive_timeout_ms", "2147483648"),
                             ("keepalive_permit_without_calls", "yes"), ("keepalive_permit_without_calls", "")] {
            let error = setError(&options, key, value)
            XCTAssertEqual(error?.kind, .invalidValue, "\(key)=\(value)")
            XCTAssertTrue(error?.message.contains(key) ?? false, error?.message ?? "")
        }
        XCTAssertEqual(options.keepaliveTimeMs, 100)
        XCTAssertEqual(options.keepaliveTimeoutMs, 100)
        XCTAssertFalse(options.keepalivePermitWithoutCalls)
        try options.set("keepalive_time_ms", "2147483647")
        XCTAssertEqual(options.keepaliveTimeMs, 2_147_483_647)
    }

    func testTypedSetterChecksAllThreeAndChangesNothingOnError() throws {
        var options = ChannelOptions()
        try options.setKeepalive(timeMs: 1000, timeoutMs: 200, permitWithoutCalls: true)
        XCTAssertEqual(options.keepaliveTimeMs, 1000)
        XCTAssertEqual(options.keepaliveTimeoutMs, 200)
        XCTAssertTrue(options.keepalivePermitWithoutCalls)
        let error = thrownError({ () throws(OptionError) in
            try options.setKeepalive(timeMs: 5000, timeoutMs: 50, permitWithoutCalls: false)
        })
        XCTAssertEqual(error?.kind, .invalidValue)
        XCTAssertEqual(options.keepaliveTimeMs, 1000)
        XCTAssertTrue(options.keepalivePermitWithoutCalls)
    }
}
