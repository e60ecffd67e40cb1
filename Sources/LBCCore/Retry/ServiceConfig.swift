/// The parts of a gRPC service config (grpc/grpc doc/service_config.md, gRFC A6)
/// that lbchannel uses: `methodConfig` entries with a `retryPolicy` or a
/// `hedgingPolicy`, and `retryThrottling`. Other members (`loadBalancingConfig`,
/// `healthCheckConfig`, `timeout`, …) are accepted and ignored here.
///
/// ```swift
/// let config = try ServiceConfig.parse(#"""
///   {"methodConfig": [{"name": [{"service": "pkg.Echo"}],
///     "retryPolicy": {"maxAttempts": 3, "initialBackoff": "0.1s", "maxBackoff": "1s",
///                     "backoffMultiplier": 2, "retryableStatusCodes": ["UNAVAILABLE"]}}]}
///   """#)
/// config.methods[0].path   // "/pkg.Echo/"
/// ```
package struct ServiceConfig: Sendable, Equatable {
    /// Entries naming services or methods.
    package var methods: [RetryConfig.MethodEntry] = []
    /// The policy of an entry with an empty name (`{}`): every other method.
    package var defaultPolicy: CallRetryPolicy?
    /// `retryThrottling`: maxTokens (1 ... 1000) and tokenRatio (> 0).
    package var throttle: (maxTokens: Int, tokenRatio: Double)?

    package static func == (a: ServiceConfig, b: ServiceConfig) -> Bool {
        a.methods == b.methods && a.defaultPolicy == b.defaultPolicy
            && a.throttle?.maxTokens == b.throttle?.maxTokens && a.throttle?.tokenRatio == b.throttle?.tokenRatio
    }

    /// An empty configuration.
    package init() {}

    /// Parse and check a service config JSON text. The error message names the JSON
    /// path of what is wrong, e.g. `methodConfig[0].retryPolicy.maxAttempts: must be > 1`.
    package static func parse(_ text: String) throws(ServiceConfigError) -> ServiceConfig {
        let root: JSONValue
        do {
            root = try JSONValue.parse(text)
        } catch {
            throw ServiceConfigError("not valid JSON: \(error.message) at byte \(error.offset)")
        }
        guard root.isObject else { throw ServiceConfigError("the service config must be a JSON object") }
        var config = ServiceConfig()
        if let throttling = root["retryThrottling"] {
            let path = "retryThrottling"
            let tokens = try number(throttling["maxTokens"], "\(path).maxTokens")
            guard tokens > 0, tokens <= 1000, tokens == tokens.rounded() else {
                throw ServiceConfigError("\(path).maxTokens: must be an integer 1 ... 1000")
            }
            let ratio = try number(throttling["tokenRatio"], "\(path).tokenRatio")
            guard ratio > 0 else { throw ServiceConfigError("\(path).tokenRatio: must be > 0") }
            config.throttle = (Int(tokens), ratio)
        }
        guard let entries = root["methodConfig"] else { return config }
        guard let list = entries.array else { throw ServiceConfigError("methodConfig: must be an array") }
        for (i, entry) in list.enumerated() {
            let path = "methodConfig[\(i)]"
            guard entry.isObject else { throw ServiceConfigError("\(path): must be an object") }
            let retry = entry["retryPolicy"], hedging = entry["hedgingPolicy"]
            if retry != nil && hedging != nil {
                throw ServiceConfigError("\(path): retryPolicy and hedgingPolicy are exclusive")
            }
            let policy: CallRetryPolicy
            if let retry {
                policy = .retry(try retryPolicy(retry, "\(path).retryPolicy"))
            } else if let hedging {
                policy = .hedging(try hedgingPolicy(hedging, "\(path).hedgingPolicy"))
            } else {
                policy = .none
            }
            guard let names = entry["name"]?.array, !names.isEmpty else {
                throw ServiceConfigError("\(path).name: must be a non-empty array")
            }
            for (j, name) in names.enumerated() {
                let namePath = "\(path).name[\(j)]"
                guard name.isObject else { throw ServiceConfigError("\(namePath): must be an object") }
                let service = try optionalString(name["service"], "\(namePath).service") ?? ""
                let method = try optionalString(name["method"], "\(namePath).method") ?? ""
                if service.isEmpty {
                    guard method.isEmpty else { throw ServiceConfigError("\(namePath): a method needs a service") }
                    config.defaultPolicy = policy
                } else if method.isEmpty {
                    config.methods.append(.init(path: "/\(service)/", exact: false, policy: policy))
                } else {
                    config.methods.append(.init(path: "/\(service)/\(method)", exact: true, policy: policy))
                }
            }
        }
        return config
    }

    private static func retryPolicy(_ value: JSONValue, _ path: String) throws(ServiceConfigError) -> RetryPolicy {
        guard value.isObject else { throw ServiceConfigError("\(path): must be an object") }
        let attempts = try number(value["maxAttempts"], "\(path).maxAttempts")
        guard attempts > 1, attempts == attempts.rounded() else { throw ServiceConfigError("\(path).maxAttempts: must be an integer > 1") }
        let initial = try duration(value["initialBackoff"], "\(path).initialBackoff")
        let maximum = try duration(value["maxBackoff"], "\(path).maxBackoff")
        guard initial > 0 else { throw ServiceConfigError("\(path).initialBackoff: must be > 0") }
        guard maximum > 0 else { throw ServiceConfigError("\(path).maxBackoff: must be > 0") }
        let multiplier = try number(value["backoffMultiplier"], "\(path).backoffMultiplier")
        guard multiplier > 0 else { throw ServiceConfigError("\(path).backoffMultiplier: must be > 0") }
        let codes = try statusMask(value["retryableStatusCodes"], "\(path).retryableStatusCodes", required: true)
        return RetryPolicy(maxAttempts: Int(min(attempts, 1000)), initialBackoffMs: initial, maxBackoffMs: maximum,
                           backoffMultiplier: multiplier, jitter: 1, retryableStatusMask: codes)
    }

    private static func hedgingPolicy(_ value: JSONValue, _ path: String) throws(ServiceConfigError) -> HedgingPolicy {
        guard value.isObject else { throw ServiceConfigError("\(path): must be an object") }
        let attempts = try number(value["maxAttempts"], "\(path).maxAttempts")
        guard attempts > 1, attempts == attempts.rounded() else { throw ServiceConfigError("\(path).maxAttempts: must be an integer > 1") }
        let delay = value["hedgingDelay"] == nil ? 0 : try duration(value["hedgingDelay"], "\(path).hedgingDelay")
        let codes = try statusMask(value["nonFatalStatusCodes"], "\(path).nonFatalStatusCodes", required: false)
        return HedgingPolicy(maxAttempts: Int(min(attempts, 1000)), delayMs: delay, nonFatalStatusMask: codes)
    }

    private static func number(_ value: JSONValue?, _ path: String) throws(ServiceConfigError) -> Double {
        guard let value else { throw ServiceConfigError("\(path): missing") }
        guard let n = value.number else { throw ServiceConfigError("\(path): must be a number, not \(value.typeName)") }
        return n
    }

    private static func optionalString(_ value: JSONValue?, _ path: String) throws(ServiceConfigError) -> String? {
        guard let value else { return nil }
        guard let s = value.string else { throw ServiceConfigError("\(path): must be a string, not \(value.typeName)") }
        return s
    }

    /// A proto3 JSON Duration ("0.1s", "2s", "1.000000001s") in whole milliseconds
    /// (rounded up, so a positive duration stays positive).
    private static func duration(_ value: JSONValue?, _ path: String) throws(ServiceConfigError) -> Int64 {
        guard let value else { throw ServiceConfigError("\(path): missing") }
        guard let text = value.string, text.hasSuffix("s"), let seconds = Double(text.dropLast()),
              seconds.isFinite, seconds >= 0, seconds <= 315_576_000_000,
              text.dropLast().utf8.allSatisfy({ ASCII.isDigit($0) || $0 == UInt8(ascii: ".") }) else {
            throw ServiceConfigError("\(path): must be a duration string such as \"0.5s\"")
        }
        return Int64((seconds * 1000).rounded(.up))
    }

    /// Status codes by name ("UNAVAILABLE") or number (14).
    private static func statusMask(_ value: JSONValue?, _ path: String, required: Bool) throws(ServiceConfigError) -> UInt32 {
        guard let value else {
            if required { throw ServiceConfigError("\(path): missing") }
            return 0
        }
        guard let items = value.array else { throw ServiceConfigError("\(path): must be an array") }
        if required && items.isEmpty { throw ServiceConfigError("\(path): must not be empty") }
        var mask: UInt32 = 0
        for (k, item) in items.enumerated() {
            let code: StatusCode?
            switch item {
            case .number(let n): code = n == n.rounded() && abs(n) < 100 ? StatusCode(rawValue: Int32(n)) : nil
            case .string(let s): code = StatusCode.allCases.first { $0.name == s }
            default: code = nil
            }
            guard let code, code != .ok else {
                throw ServiceConfigError("\(path)[\(k)]: not a gRPC status code other than OK")
            }
            mask |= 1 << UInt32(code.rawValue)
        }
        return mask
    }
}
