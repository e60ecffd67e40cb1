/// The balancing options (`least_request_choice_count`, `peak_ewma_decay_ms`, outlier
/// ejection, slow start, subsetting): their keys and text setters.
extension ChannelOptions {
    /// The balancing keys of ``set(_:_:)``, in header order.
    package static let balancingKeys: [String] = [
        "least_request_choice_count", "peak_ewma_decay_ms", "outlier_consecutive_failures",
        "outlier_base_ejection_ms", "outlier_max_ejection_ms", "outlier_max_ejection_percent",
        "outlier_status_codes", "outlier_failure_percentage", "outlier_interval_ms", "outlier_request_volume",
        "slow_start_window_ms", "slow_start_min_weight_percent",
        "subset_size", "subset_client_id",
    ]

    /// Sets one balancing option; false when `key` is not one. On error `self` is unchanged.
    mutating func setBalancing(_ key: String, _ value: String) throws(OptionError) -> Bool {
        switch key {
        case "least_request_choice_count":
            let n = try Self.integer(key, value, in: 2...10)
            leastRequestChoiceCount = Int(n)
        case "peak_ewma_decay_ms":
            peakEWMADecayMs = try Self.milliseconds(key, value, minimum: 1)
        case "outlier_consecutive_failures":
            let n = try Self.integer(key, value, in: 0...1_000_000)
            outlierEjection.consecutiveFailures = Int(n)
        case "outlier_base_ejection_ms":
            outlierEjection.baseEjectionMs = try Self.milliseconds(key, value, minimum: 1)
        case "outlier_max_ejection_ms":
            outlierEjection.maxEjectionMs = try Self.milliseconds(key, value, minimum: 1)
        case "outlier_max_ejection_percent":
            let n = try Self.integer(key, value, in: 0...100)
            outlierEjection.maxEjectionPercent = Int(n)
        case "outlier_status_codes":
            outlierEjection.statusMask = try Self.statusMask(key, value)
        case "outlier_failure_percentage":
            let n = try Self.integer(key, value, in: 0...100)
            outlierEjection.failurePercentage = Int(n)
        case "outlier_interval_ms":
            outlierEjection.intervalMs = try Self.milliseconds(key, value, minimum: 10)
        case "outlier_request_volume":
            let n = try Self.integer(key, value, in: 1...1_000_000)
            outlierEjection.requestVolume = Int(n)
        case "slow_start_window_ms":
            slowStartWindowMs = try Self.milliseconds(key, value, minimum: 0)
        case "slow_start_min_weight_percent":
            let n = try Self.integer(key, value, in: 1...100)
            slowStartMinWeightPercent = Int(n)
        case "subset_size":
            let n = try Self.integer(key, value, in: 0...1_000_000)
            subsetSize = Int(n)
        case "subset_client_id":
            try Self.checkText(key, value, lowest: 0x21)
            subsetClientID = value
        default:
            return false
        }
        return true
    }

    /// A duration in ms between `minimum` and one day.
    private static func milliseconds(_ key: String, _ value: String, minimum: Int64) throws(OptionError) -> Int64 {
        let ms = try integer(key, value)
        try checkMinimum(key, ms, minimum)
        guard ms <= 86_400_000 else { throw .invalid(key, "must be <= 86400000 (one day), got \(ms)") }
        return ms
    }

    /// A comma-separated list of status codes, by number (14) or name (UNAVAILABLE),
    /// at least one, OK excluded.
    static func statusMask(_ key: String, _ value: String) throws(OptionError) -> UInt32 {
        var mask: UInt32 = 0
        for item in value.split(separator: ",", omittingEmptySubsequences: false) {
            let text = String(item)
            let code = Int32(text).flatMap(StatusCode.init(rawValue:))
                ?? StatusCode.allCases.first { $0.name == text }
            guard let code else {
                throw .invalid(key, "\(ASCII.quoted(text)) is not a gRPC status code (a number 1-16 or a name such as UNAVAILABLE)")
            }
            guard code != .ok else { throw .invalid(key, "OK cannot count as a failure") }
            mask |= 1 << UInt32(code.rawValue)
        }
        return mask
    }
}
