import XCTest
@testable import LBCCore

final class ChannelOptionsTests: XCTestCase {
    private func setError(_ options: inout ChannelOptions, _ key: String, _ value: String,
                          file: StaticString = #filePath, line: UInt = #line) -> OptionError? {
        thrownError({ () throws(OptionError) in try options.set(key, value) }, file: file, line: line)
    }

    func testDefaultsMatchTheHeader() {
        let options = ChannelOptions()
        XCTAssertEqual(options.lbPolicy, .leastRequest)
        XCTAssertEqual(options.connectTimeoutMs, 20_000)
        XCTAssertFalse(options.waitForReady)
        XCTAssertEqual(options.maxSendMessageSize, 2_147_483_647)
        XCTAssertEqual(options.maxReceiveMessageSize, 4_194_304)
        XCTAssertEqual(options.backoffInitialMs, 1000)
        XCTAssertEqual(options.backoffMultiplier, 1.6)
        XCTAssertEqual(options.backoffJitter, 0.2)
        XCTAssertEqual(options.backoffMaxMs, 120_000)
        XCTAssertNil(options.authority)
        XCTAssertNil(options.userAgent)
        XCTAssertEqual(options.discoveryIntervalMs, 10_000)
        XCTAssertEqual(options.minReresolutionIntervalMs, 1_000)
        XCTAssertFalse(options.dnsUseTTL)
        XCTAssertEqual(options.dnsTTLFloorMs, 1_000)
        XCTAssertEqual(options.emptyAnswer, .keep)
        XCTAssertEqual(options.resolution, .lazy)
        XCTAssertEqual(options.eagerTimeoutMs, 5_000)
        XCTAssertFalse(options.dnsSRV)
        XCTAssertEqual(options.dnsTimeoutMs, 2_000)
    }

    func testSetEveryKey() throws {
        var options = ChannelOptions()
        try options.set("lb_policy", "round_robin")
        try options.set("connect_timeout_ms", "5000")
        try options.set("wait_for_ready", "true")
        try options.set("max_send_message_size", "0")
        try options.set("max_receive_message_size", "2147483647")
        try options.set("backoff_max_ms", "60000")
        try options.set("backoff_initial_ms", "200")
        try options.set("backoff_multiplier", "2.5")
        try options.set("backoff_jitter", "0")
        try options.set("authority", "api.example.com:443")
        try options.set("user_agent", "my app/1.0")
        try options.set("discovery_interval_ms", "30000")
        try options.set("min_reresolution_interval_ms", "250")
        try options.set("dns_use_ttl", "true")
        try options.set("dns_ttl_floor_ms", "5000")
        try options.set("empty_answer", "apply")
        try options.set("resolution", "eager")
        try options.set("eager_timeout_ms", "750")
        try options.set("dns_srv", "1")
        try options.set("dns_timeout_ms", "300")
        XCTAssertEqual(options.lbPolicy, .roundRobin)
        XCTAssertEqual(options.connectTimeoutMs, 5000)
        XCTAssertTrue(options.waitForReady)
        XCTAssertEqual(options.maxSendMessageSize, 0)
        XCTAssertEqual(options.maxReceiveMessageSize, Int(Int32.max))
        XCTAssertEqual(options.backoffInitialMs, 200)
        XCTAssertEqual(options.backoffMultiplier, 2.5)
        XCTAssertEqual(options.backoffJitter, 0)
        XCTAssertEqual(options.backoffMaxMs, 60_000)
        XCTAssertEqual(options.authority, "api.example.com:443")
        XCTAssertEqual(options.userAgent, "my app/1.0")
        XCTAssertEqual(options.discoveryIntervalMs, 30_000)
        XCTAssertEqual(options.minReresolutionIntervalMs, 250)
        XCTAssertTrue(options.dnsUseTTL)
        XCTAssertEqual(options.dnsTTLFloorMs, 5_000)
        XCTAssertEqual(options.emptyAnswer, .apply)
        XCTAssertEqual(options.resolution, .eager)
        XCTAssertEqual(options.eagerTimeoutMs, 750)
        XCTAssertTrue(options.dnsSRV)
        XCTAssertEqual(options.dnsTimeoutMs, 300)
    }

    func testKeysListsEveryKeyThatSetAccepts() throws {
        XCTAssertEqual(ChannelOptions.keys.count, 23 + TLSOptions.keys.count + ChannelOptions.balancingKeys.count
                       + ChannelOptions.keepaliveKeys.count
                       + ChannelOptions.retryKeys.count
                       + ChannelOptions.healthKeys.count)
        for key in ChannelOptions.keys {
            var options = ChannelOptions()
            let error = setError(&options, key, "\u{1}not valid for any option\u{1}")
            XCTAssertEqual(error?.kind, .invalidValue, key)
        }
    }

    func testBooleanSpellings() throws {
        var options = ChannelOptions()
        for (text, expected) in [("1", true), ("0", false), ("true", true), ("false", false)] {
            try options.set("wait_for_ready", text)
            XCTAssertEqual(options.waitForReady, expected, text)
        }
        // Only what the header documents: other spellings are errors, and leave the value alone.
        for text in ["maybe", "TRUE", "True", "yes", "no", "on", "off", " 1", "01"] {
            XCTAssertEqual(setError(&options, "wait_for_ready", text)?.kind, .invalidValue, text)
            XCTAssertFalse(options.waitForReady, text)
        }
        XCTAssertEqual(setError(&options, "wait_for_ready", "")?.kind, .invalidValue)
    }

    func testSetRejectsUnknownKey() {
        var options = ChannelOptions()
        let error = setError(&options, "foo", "1")
        XCTAssertEqual(error?.kind, .unknownKey)
        XCTAssertTrue(error?.message.hasPrefix(#"unknown option "foo""#) ?? false)
        XCTAssertEqual(setError(&options, "LB_POLICY", "pick_first")?.kind, .unknownKey)
        XCTAssertEqual(options, ChannelOptions())
    }

    func testSetRejectsNonInteger() {
        var options = ChannelOptions()
        XCTAssertEqual(setError(&options, "connect_timeout_ms", "abc")?.message,
                       #"option "connect_timeout_ms": "abc" is not an integer"#)
        XCTAssertEqual(setError(&options, "connect_timeout_ms", "1.5")?.kind, .invalidValue)
        XCTAssertEqual(setError(&options, "connect_timeout_ms", " 5")?.kind, .invalidValue)
        XCTAssertEqual(setError(&options, "connect_timeout_ms", "99999999999999999999")?.message,
                       #"option "connect_timeout_ms": "99999999999999999999" is out of range"#)
        XCTAssertEqual(options, ChannelOptions())
    }

    func testSetRejectsOutOfRangeValuesAndKeepsOptions() {
        var options = ChannelOptions()
        let cases: [(String, String)] = [
            ("connect_timeout_ms", "0"), ("connect_timeout_ms", "-1"),
            ("max_send_message_size", "-1"), ("max_send_message_size", "2147483648"),
            ("max_receive_message_size", "4294967296"),
            ("backoff_initial_ms", "0"), ("backoff_initial_ms", "120001"),
            ("backoff_multiplier", "0.99"), ("backoff_multiplier", "nan"), ("backoff_multiplier", "inf"),
            ("backoff_multiplier", "x"),
            ("backoff_jitter", "-0.1"), ("backoff_jitter", "1.01"),
            ("backoff_max_ms", "999"),
            ("lb_policy", "peak-ewma"), ("lb_policy", "Round_Robin"),
            ("authority", ""), ("authority", "a b"), ("authority", "caf\u{E9}"),
            ("user_agent", ""), ("user_agent", "agent\n"),
        ]
        for (key, value) in cases {
            let error = setError(&options, key, value)
            XCTAssertEqual(error?.kind, .invalidValue, "\(key)=\(value)")
            XCTAssertTrue(error?.message.hasPrefix("option \"") ?? false, error?.message ?? "")
        }
        XCTAssertEqual(options, ChannelOptions())
    }

    func testBackoffMaxMustNotBeBelowInitial() throws {
        var options = ChannelOptions()
        XCTAssertEqual(setError(&options, "backoff_max_ms", "500")?.message,
                       #"option "backoff_max_ms": backoff_max_ms (500) must be >= backoff_initial_ms (1000)"#)
        try options.set("backoff_max_ms", "1000")
        XCTAssertEqual(options.backoffMaxMs, 1000)
    }

    func testTypedSettersValidateLikeSet() throws {
        var options = ChannelOptions()
        XCTAssertEqual(thrownError { () throws(OptionError) in
            try options.setBackoff(initialMs: 100, multiplier: 1.5, jitter: 2, maxMs: 1000)
        }?.message, "option \"backoff_jitter\": must be between 0.0 and 1.0, got 2.0")
        XCTAssertEqual(thrownError { () throws(OptionError) in try options.setConnectTimeout(ms: 0) }?.kind,
                       .invalidValue)
        XCTAssertEqual(thrownError { () throws(OptionError) in
            try options.setMaxMessageSizes(send: 10, receive: Int64(Int32.max) + 1)
        }?.kind, .invalidValue)
        XCTAssertEqual(options, ChannelOptions(), "failed typed setters change nothing")

        try options.setBackoff(initialMs: 100, multiplier: 1.5, jitter: 0.5, maxMs: 1000)
        try options.setConnectTimeout(ms: 1)
        try options.setMaxMessageSizes(send: 10, receive: 20)
        XCTAssertEqual(options.backoffInitialMs, 100)
        XCTAssertEqual(options.backoffMaxMs, 1000)
        XCTAssertEqual(options.connectTimeoutMs, 1)
        XCTAssertEqual(options.maxSendMessageSize, 10)
        XCTAssertEqual(options.maxReceiveMessageSize, 20)
    }

    func testSetAuthorityNilRestoresDefault() throws {
        var options = ChannelOptions()
        try options.setAuthority("example.com")
        XCTAssertEqual(options.authority, "example.com")
        try options.setAuthority(nil)
        XCTAssertNil(options.authority)
    }

    func testBackoffIsBuiltFromOptions() throws {
        var options = ChannelOptions()
        try options.setBackoff(initialMs: 10, multiplier: 2, jitter: 0, maxMs: 30)
        var backoff = options.backoff
        XCTAssertEqual((0..<4).map { _ in backoff.nextDelayMs(random: { 1 }) }, [10, 20, 30, 30])
    }

    func testLBPolicyNames() {
        XCTAssertEqual(LBPolicy.allCases.map(\.name),
                       ["least_request", "round_robin", "pick_first", "peak_ewma", "weighted_round_robin"])
        XCTAssertEqual(LBPolicy.allCases.map(\.rawValue), [0, 1, 2, 3, 4])
        for policy in LBPolicy.allCases { XCTAssertEqual(LBPolicy(name: policy.name), policy) }
        XCTAssertNil(LBPolicy(name: "random"))
    }

    // MARK: discovery options

    func testDiscoveryKeysFollowTheExistingKeysInOrder() {
        XCTAssertEqual(Array(ChannelOptions.keys.prefix(11)), [
            "lb_policy", "connect_timeout_ms", "wait_for_ready", "max_send_message_size",
            "max_receive_message_size", "backoff_initial_ms", "backoff_multiplier", "backoff_jitter",
            "backoff_max_ms", "authority", "user_agent",
        ])
        XCTAssertEqual(Array(ChannelOptions.keys.dropFirst(11).prefix(12)), [
            "discovery_interval_ms", "min_reresolution_interval_ms", "dns_use_ttl", "dns_ttl_floor_ms",
            "empty_answer", "resolution", "eager_timeout_ms", "dns_srv", "dns_timeout_ms",
            "stream_window_bytes", "stream_send_buffer_bytes", "backoff_reset_after_ms",
        ])
    }

    func testBackoffResetAfterDefaultsAndLimits() throws {
        var options = ChannelOptions()
        XCTAssertEqual(options.backoffResetAfterMs, 5000)
        try options.set("backoff_reset_after_ms", "0")
        XCTAssertEqual(options.backoffResetAfterMs, 0)
        try options.set("backoff_reset_after_ms", "60000")
        XCTAssertEqual(options.backoffResetAfterMs, 60_000)
        XCTAssertEqual(setError(&options, "backoff_reset_after_ms", "-1")?.kind, .invalidValue)
        XCTAssertEqual(setError(&options, "backoff_reset_after_ms", "soon")?.kind, .invalidValue)
        XCTAssertEqual(options.backoffResetAfterMs, 60_000)
    }

    func testStreamOptionsDefaultsAndLimits() throws {
        var options = ChannelOptions()
        XCTAssertEqual(options.streamWindowBytes, 4 << 20)
        XCTAssertEqual(options.streamSendBufferBytes, 64 << 10)
        try options.set("stream_window_bytes", "65536")
        try options.set("stream_send_buffer_bytes", "0")
        XCTAssertEqual(options.streamWindowBytes, 65536)
        XCTAssertEqual(options.streamSendBufferBytes, 0)
        XCTAssertEqual(setError(&options, "stream_window_bytes", "1023")?.message,
                       #"option "stream_window_bytes": must be >= 1024, got 1023"#)
        XCTAssertEqual(setError(&options, "stream_window_bytes", "2147483648")?.message,
                       #"option "stream_window_bytes": must be <= 2147483647, got 2147483648"#)
        XCTAssertEqual(setError(&options, "stream_send_buffer_bytes", "-1")?.message,
                       #"option "stream_send_buffer_bytes": must be >= 0, got -1"#)
        XCTAssertEqual(options.streamWindowBytes, 65536, "a failed set changes nothing")
    }

    func testDiscoveryIntervalAcceptsOneHundredAndRejectsNinetyNine() throws {
        var options = ChannelOptions()
        XCTAssertEqual(setError(&options, "discovery_interval_ms", "99")?.message,
                       #"option "discovery_interval_ms": must be >= 100, got 99"#)
        XCTAssertEqual(options.discoveryIntervalMs, 10_000)
        try options.set("discovery_interval_ms", "100")
        XCTAssertEqual(options.discoveryIntervalMs, 100)
        XCTAssertEqual(setError(&options, "discovery_interval_ms", "-100")?.kind, .invalidValue)
        XCTAssertEqual(setError(&options, "discovery_interval_ms", "10s")?.message,
                       #"option "discovery_interval_ms": "10s" is not an integer"#)
        XCTAssertEqual(options.discoveryIntervalMs, 100)
    }

    func testMinReresolutionIntervalAcceptsZeroAndRejectsNegative() throws {
        var options = ChannelOptions()
        XCTAssertEqual(setError(&options, "min_reresolution_interval_ms", "-1")?.message,
                       #"option "min_reresolution_interval_ms": must be >= 0, got -1"#)
        XCTAssertEqual(options.minReresolutionIntervalMs, 1_000)
        try options.set("min_reresolution_interval_ms", "0")
        XCTAssertEqual(options.minReresolutionIntervalMs, 0)
    }

    func testDNSTTLFloorAcceptsOneHundredAndRejectsNinetyNine() throws {
        var options = ChannelOptions()
        XCTAssertEqual(setError(&options, "dns_ttl_floor_ms", "99")?.message,
                       #"option "dns_ttl_floor_ms": must be >= 100, got 99"#)
        XCTAssertEqual(options.dnsTTLFloorMs, 1_000)
        try options.set("dns_ttl_floor_ms", "100")
        XCTAssertEqual(options.dnsTTLFloorMs, 100)
    }

    func testTimeoutsMustBePositive() throws {
        var options = ChannelOptions()
        for key in ["eager_timeout_ms", "dns_timeout_ms"] {
            XCTAssertEqual(setError(&options, key, "0")?.message, "option \"\(key)\": must be > 0, got 0")
            XCTAssertEqual(setError(&options, key, "-5")?.kind, .invalidValue, key)
            XCTAssertEqual(setError(&options, key, "1e3")?.kind, .invalidValue, key)
        }
        XCTAssertEqual(options, ChannelOptions())
        try options.set("eager_timeout_ms", "1")
        try options.set("dns_timeout_ms", "1")
        XCTAssertEqual(options.eagerTimeoutMs, 1)
        XCTAssertEqual(options.dnsTimeoutMs, 1)
    }

    func testDiscoveryBooleans() throws {
        var options = ChannelOptions()
        try options.set("dns_use_ttl", "true")
        try options.set("dns_srv", "1")
        XCTAssertTrue(options.dnsUseTTL)
        XCTAssertTrue(options.dnsSRV)
        try options.set("dns_use_ttl", "false")
        try options.set("dns_srv", "0")
        XCTAssertFalse(options.dnsUseTTL)
        XCTAssertFalse(options.dnsSRV)
        XCTAssertEqual(setError(&options, "dns_use_ttl", "2")?.kind, .invalidValue)
        XCTAssertEqual(setError(&options, "dns_srv", "")?.kind, .invalidValue)
    }

    func testEmptyAnswerPolicyValues() throws {
        var options = ChannelOptions()
        try options.set("empty_answer", "apply")
        XCTAssertEqual(options.emptyAnswer, .apply)
        try options.set("empty_answer", "keep")
        XCTAssertEqual(options.emptyAnswer, .keep)
        XCTAssertEqual(setError(&options, "empty_answer", "drop")?.message,
                       #"option "empty_answer": "drop" is not one of keep, apply"#)
        XCTAssertEqual(setError(&options, "empty_answer", "Apply")?.kind, .invalidValue)
        XCTAssertEqual(setError(&options, "empty_answer", "")?.kind, .invalidValue)
        XCTAssertEqual(options.emptyAnswer, .keep)
        XCTAssertEqual(EmptyAnswerPolicy.allCases.map(\.rawValue), ["keep", "apply"])
    }

    func testResolutionModeValues() throws {
        var options = ChannelOptions()
        try options.set("resolution", "eager")
        XCTAssertEqual(options.resolution, .eager)
        try options.set("resolution", "lazy")
        XCTAssertEqual(options.resolution, .lazy)
        XCTAssertEqual(setError(&options, "resolution", "sync")?.message,
                       #"option "resolution": "sync" is not one of lazy, eager"#)
        XCTAssertEqual(setError(&options, "resolution", "EAGER")?.kind, .invalidValue)
        XCTAssertEqual(options.resolution, .lazy)
        XCTAssertEqual(ResolutionMode.allCases.map(\.rawValue), ["lazy", "eager"])
    }

    func testDiscoveryErrorBackoffGrowsToTheDiscoveryInterval() {
        var backoff = ChannelOptions().discoveryErrorBackoff
        XCTAssertEqual(backoff.initialMs, 1000)
        XCTAssertEqual(backoff.multiplier, 1.6)
        XCTAssertEqual(backoff.jitter, 0.2)
        XCTAssertEqual(backoff.maxMs, 10_000)
        XCTAssertEqual((0..<7).map { _ in backoff.nextDelayMs(random: { 0 }) },
                       [1000, 1600, 2560, 4096, 6554, 10_000, 10_000])
    }

    func testDiscoveryErrorBackoffFollowsTheDiscoveryInterval() throws {
        var options = ChannelOptions()
        try options.set("discovery_interval_ms", "2000")
        var backoff = options.discoveryErrorBackoff
        XCTAssertEqual((0..<4).map { _ in backoff.nextDelayMs(random: { 0 }) }, [1000, 1600, 2000, 2000])
        try options.set("discovery_interval_ms", "100")
        backoff = options.discoveryErrorBackoff
        XCTAssertEqual(backoff.initialMs, 100, "the first retry never waits longer than the interval")
        XCTAssertEqual((0..<2).map { _ in backoff.nextDelayMs(random: { 0 }) }, [100, 100])
    }
}

final class ChannelOptionsBalancingTests: XCTestCase {
    func testBalancingDefaults() {
        let o = ChannelOptions()
        XCTAssertEqual(o.lbPolicy, .leastRequest)
        XCTAssertEqual(o.leastRequestChoiceCount, 2)
        XCTAssertEqual(o.peakEWMADecayMs, 10_000)
        XCTAssertEqual(o.outlierEjection, OutlierEjection())
        XCTAssertFalse(o.outlierEjection.isEnabled)
        XCTAssertEqual(o.outlierEjection.maxEjectionPercent, 50)
    }

    func testSetBalancingOptions() throws {
        var o = ChannelOptions()
        try o.set("lb_policy", "peak_ewma")
        try o.set("least_request_choice_count", "4")
        try o.set("peak_ewma_decay_ms", "2500")
        try o.set("outlier_consecutive_failures", "5")
        try o.set("outlier_base_ejection_ms", "1000")
        try o.set("outlier_max_ejection_ms", "9000")
        try o.set("outlier_max_ejection_percent", "25")
        try o.set("outlier_status_codes", "UNAVAILABLE,13,RESOURCE_EXHAUSTED")
        try o.set("outlier_failure_percentage", "60")
        try o.set("outlier_interval_ms", "500")
        try o.set("outlier_request_volume", "7")
        try o.set("slow_start_window_ms", "3000")
        try o.set("slow_start_min_weight_percent", "20")
        try o.set("subset_size", "5")
        try o.set("subset_client_id", "frontend-7")
        XCTAssertEqual(o.lbPolicy, .peakEWMA)
        XCTAssertEqual(o.leastRequestChoiceCount, 4)
        XCTAssertEqual(o.peakEWMADecayMs, 2500)
        XCTAssertEqual(o.outlierEjection.consecutiveFailures, 5)
        XCTAssertEqual(o.outlierEjection.baseEjectionMs, 1000)
        XCTAssertEqual(o.outlierEjection.maxEjectionMs, 9000)
        XCTAssertEqual(o.outlierEjection.maxEjectionPercent, 25)
        XCTAssertEqual(o.outlierEjection.statusNames, "RESOURCE_EXHAUSTED,INTERNAL,UNAVAILABLE")
        XCTAssertEqual(o.outlierEjection.failurePercentage, 60)
        XCTAssertEqual(o.outlierEjection.intervalMs, 500)
        XCTAssertEqual(o.outlierEjection.requestVolume, 7)
        XCTAssertEqual(o.slowStartWindowMs, 3000)
        XCTAssertEqual(o.slowStartMinWeightPercent, 20)
        XCTAssertEqual(o.subsetSize, 5)
        XCTAssertEqual(o.subsetClientID, "frontend-7")
        for key in ChannelOptions.balancingKeys { XCTAssert(ChannelOptions.keys.contains(key), key) }
    }

    func testBadBalancingValuesAreRefusedAndChangeNothing() {
        let bad: [(String, String)] = [
            ("lb_policy", "peak-ewma"), ("least_request_choice_count", "1"), ("least_request_choice_count", "11"),
            ("peak_ewma_decay_ms", "0"), ("peak_ewma_decay_ms", "x"), ("outlier_consecutive_failures", "-1"),
            ("outlier_base_ejection_ms", "0"), ("outlier_max_ejection_percent", "101"),
            ("outlier_status_codes", ""), ("outlier_status_codes", "OK"), ("outlier_status_codes", "14,,13"),
            ("outlier_status_codes", "17"), ("outlier_status_codes", "unavailable"),
            ("outlier_failure_percentage", "101"), ("outlier_interval_ms", "5"), ("outlier_request_volume", "0"),
            ("slow_start_window_ms", "-1"), ("slow_start_min_weight_percent", "0"),
            ("subset_size", "-1"), ("subset_client_id", ""), ("subset_client_id", "a\nb"),
        ]
        for (key, value) in bad {
            var o = ChannelOptions()
            XCTAssertThrowsError(try o.set(key, value), "\(key)=\(value)") { error in
                XCTAssertEqual((error as? OptionError)?.kind, .invalidValue, "\(key)=\(value)")
            }
            XCTAssertEqual(o, ChannelOptions(), "\(key)=\(value)")
        }
    }

    func testPolicyErrorNamesEveryPolicy() {
        var o = ChannelOptions()
        XCTAssertThrowsError(try o.set("lb_policy", "random")) { error in
            XCTAssert((error as? OptionError)?.message.contains("peak_ewma") ?? false, "\(error)")
        }
    }
}
