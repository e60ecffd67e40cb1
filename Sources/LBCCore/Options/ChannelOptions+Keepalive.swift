/// The keepalive options (gRFC A8): `keepalive_time_ms`, `keepalive_timeout_ms`,
/// `keepalive_permit_without_calls`; their keys and setters.
extension ChannelOptions {
    /// The keepalive keys of ``set(_:_:)``, in header order.
    package static let keepaliveKeys: [String] = [
        "keepalive_time_ms", "keepalive_timeout_ms", "keepalive_permit_without_calls",
    ]

    /// The least keepalive time and timeout accepted, in milliseconds.
    package static let keepaliveMinimumMs: Int64 = 100
    /// The largest keepalive time and timeout accepted (2^31 - 1 ms, as gRPC's int arguments).
    package static let keepaliveMaximumMs: Int64 = Int64(Int32.max)

    /// Sets one keepalive option; false when `key` is not one. On error `self` is unchanged.
    mutating func setKeepalive(_ key: String, _ value: String) throws(OptionError) -> Bool {
        switch key {
        case "keepalive_time_ms":
            let ms = try Self.integer(key, value)
            try Self.checkKeepaliveTime(ms)
            keepaliveTimeMs = ms
        case "keepalive_timeout_ms":
            let ms = try Self.integer(key, value)
            try Self.checkKeepaliveTimeout(ms)
            keepaliveTimeoutMs = ms
        case "keepalive_permit_without_calls":
            keepalivePermitWithoutCalls = try Self.boolean(key, value)
        default:
            return false
        }
        return true
    }

    /// Sets all three keepalive options after checking: `timeMs` 0 (off) or
    /// 100 ... 2^31-1, `timeoutMs` 100 ... 2^31-1.
    package mutating func setKeepalive(timeMs: Int64, timeoutMs: Int64, permitWithoutCalls: Bool) throws(OptionError) {
        try Self.checkKeepaliveTime(timeMs)
        try Self.checkKeepaliveTimeout(timeoutMs)
        keepaliveTimeMs = timeMs
        keepaliveTimeoutMs = timeoutMs
        keepalivePermitWithoutCalls = permitWithoutCalls
    }

    /// The keepalive settings these options describe.
    package var keepalive: KeepalivePolicy { KeepalivePolicy(options: self) }

    private static func checkKeepaliveTime(_ ms: Int64) throws(OptionError) {
        guard ms == 0 || (keepaliveMinimumMs...keepaliveMaximumMs).contains(ms) else {
            throw .invalid("keepalive_time_ms", "must be 0 (off) or between \(keepaliveMinimumMs)"
                + " and \(keepaliveMaximumMs), got \(ms)")
        }
    }

    private static func checkKeepaliveTimeout(_ ms: Int64) throws(OptionError) {
        guard (keepaliveMinimumMs...keepaliveMaximumMs).contains(ms) else {
            throw .invalid("keepalive_timeout_ms", "must be between \(keepaliveMinimumMs)"
                + " and \(keepaliveMaximumMs), got \(ms)")
        }
    }
}
