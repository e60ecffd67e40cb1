import XCTest
@testable import LBCCore

final class ServiceConfigTests: XCTestCase {
    func testJSONParsesNestedValuesAndEscapes() throws {
        let v = try JSONValue.parse(#" {"a": [1, -2.5e1, true, null, "x\"\u00e9\ud83d\ude00"], "b": {}} "#)
        XCTAssertEqual(v["a"]?[0]?.number, 1)
        XCTAssertEqual(v["a"]?[1]?.number, -25)
        XCTAssertEqual(v["a"]?[2], .bool(true))
        XCTAssertEqual(v["a"]?[3], .null)
        XCTAssertEqual(v["a"]?[4]?.string, "x\"é😀")
        XCTAssertEqual(v["b"], .object([]))
    }

    func testJSONRejectsMalformedTextWithOffset() {
        for text in ["", "{", "[1,]", "{\"a\" 1}", "\"\\q\"", "01x", "[1] 2", "\"\u{1}\"", "tru", "-"] {
            XCTAssertThrowsError(try JSONValue.parse(text), text)
        }
        let deep = String(repeating: "[", count: 100) + String(repeating: "]", count: 100)
        let error = thrownError { () throws(JSONValue.ParseError) in try JSONValue.parse(deep) }
        XCTAssertTrue(error?.message.contains("nested deeper") ?? false)
    }

    func testServiceConfigReadsRetryHedgingAndThrottling() throws {
        let config = try ServiceConfig.parse(#"""
        {"loadBalancingConfig": [{"round_robin": {}}],
         "healthCheckConfig": {"serviceName": "x"},
         "retryThrottling": {"maxTokens": 10, "tokenRatio": 0.5},
         "methodConfig": [
           {"name": [{"service": "pkg.Echo"}],
            "retryPolicy": {"maxAttempts": 9, "initialBackoff": "0.05s", "maxBackoff": "2s",
                            "backoffMultiplier": 1.5, "retryableStatusCodes": ["UNAVAILABLE", 8]}},
           {"name": [{"service": "pkg.Echo", "method": "Hedge"}],
            "hedgingPolicy": {"maxAttempts": 3, "hedgingDelay": "0.1s", "nonFatalStatusCodes": ["UNAVAILABLE"]}},
           {"name": [{}], "timeout": "1s"}]}
        """#)
        XCTAssertEqual(config.throttle?.maxTokens, 10)
        XCTAssertEqual(config.throttle?.tokenRatio, 0.5)
        XCTAssertEqual(config.defaultPolicy, CallRetryPolicy.none)
        var retry = RetryConfig()
        retry.methods = config.methods
        guard case .retry(let p) = retry.policy(forMethod: "/pkg.Echo/Say") else { return XCTFail() }
        XCTAssertEqual(p.maxAttempts, 5)
        XCTAssertEqual(p.initialBackoffMs, 50)
        XCTAssertEqual(p.maxBackoffMs, 2000)
        XCTAssertEqual(p.retryableStatusMask, RetryPolicy.mask([.unavailable, .resourceExhausted]))
        guard case .hedging(let h) = retry.policy(forMethod: "/pkg.Echo/Hedge") else { return XCTFail() }
        XCTAssertEqual(h, HedgingPolicy(maxAttempts: 3, delayMs: 100, nonFatalStatusMask: RetryPolicy.mask([.unavailable])))
        XCTAssertEqual(retry.policy(forMethod: "/other.Svc/Say"), .none)
    }

    func testServiceConfigErrorsNameTheJSONPath() {
        let cases = [
            (#"{"methodConfig": [{"name": [{"service": "a"}], "retryPolicy": {"maxAttempts": 1}}]}"#,
             "methodConfig[0].retryPolicy.maxAttempts"),
            (#"{"methodConfig": [{"name": [{"service": "a"}], "retryPolicy": {"maxAttempts": 2, "initialBackoff": "1", "maxBackoff": "1s", "backoffMultiplier": 2, "retryableStatusCodes": ["UNAVAILABLE"]}}]}"#,
             "initialBackoff"),
            (#"{"methodConfig": [{"name": [{"service": "a"}], "retryPolicy": {"maxAttempts": 2, "initialBackoff": "1s", "maxBackoff": "1s", "backoffMultiplier": 2, "retryableStatusCodes": ["NOPE"]}}]}"#,
             "retryableStatusCodes[0]"),
            (#"{"methodConfig": [{"name": [{"method": "m"}]}]}"#, "a method needs a service"),
            (#"{"retryThrottling": {"maxTokens": 0, "tokenRatio": 1}}"#, "retryThrottling.maxTokens"),
            (#"[1]"#, "must be a JSON object"),
            (#"{"#, "not valid JSON"),
        ]
        for (text, expected) in cases {
            let error = thrownError { () throws(ServiceConfigError) in try ServiceConfig.parse(text) }
            XCTAssertTrue(error?.message.contains(expected) ?? false, "\(error?.message ?? "-") lacks \(expected)")
        }
    }

    func testMethodEntryWinsOverServiceEntryWhichWinsOverChannelPolicy() {
        let a = RetryPolicy(maxAttempts: 2, initialBackoffMs: 1, maxBackoffMs: 1, backoffMultiplier: 1, retryableStatusMask: 1)
        let b = RetryPolicy(maxAttempts: 3, initialBackoffMs: 1, maxBackoffMs: 1, backoffMultiplier: 1, retryableStatusMask: 1)
        var config = RetryConfig()
        config.channelPolicy = .hedging(HedgingPolicy(maxAttempts: 2, delayMs: 0, nonFatalStatusMask: 0))
        config.methods = [.init(path: "/s/", exact: false, policy: .retry(a)), .init(path: "/s/m", exact: true, policy: .retry(b))]
        XCTAssertEqual(config.policy(forMethod: "/s/m"), .retry(b))
        XCTAssertEqual(config.policy(forMethod: "/s/mm"), .retry(a))
        XCTAssertEqual(config.policy(forMethod: "/t/m"), config.channelPolicy)
    }

    func testRetryOptionsBuildTheChannelPolicyAndRefuseRetryWithHedging() throws {
        var o = ChannelOptions()
        XCTAssertFalse(o.retryConfig.isEnabled)
        try o.set("retry_max_attempts", "7")
        try o.set("retry_status_codes", "UNAVAILABLE,RESOURCE_EXHAUSTED")
        try o.set("retry_throttle_max_tokens", "10")
        guard case .retry(let p) = o.retryConfig.channelPolicy else { return XCTFail() }
        XCTAssertEqual(p.maxAttempts, 5)
        XCTAssertEqual(p.retryableStatusMask, RetryPolicy.mask([.unavailable, .resourceExhausted]))
        XCTAssertEqual(o.retryConfig.throttle?.maxMilliTokens, 10_000)
        let before = o
        XCTAssertThrowsError(try o.set("hedging_max_attempts", "2"))
        XCTAssertThrowsError(try o.set("retry_max_backoff_ms", "5"))   // below the initial 100
        XCTAssertThrowsError(try o.set("retry_jitter", "1.5"))
        XCTAssertThrowsError(try o.set("service_config", "{"))
        XCTAssertEqual(o, before)
        try o.set("retry_max_attempts", "0")
        try o.set("hedging_max_attempts", "3")
        try o.set("hedging_delay_ms", "50")
        XCTAssertEqual(o.retryConfig.channelPolicy, .hedging(HedgingPolicy(maxAttempts: 3, delayMs: 50, nonFatalStatusMask: 0)))
        XCTAssertTrue(ChannelOptions.keys.contains("service_config"))
    }
}
