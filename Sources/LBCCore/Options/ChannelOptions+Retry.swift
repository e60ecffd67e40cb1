/// The retry and hedging options (gRFC A6): their keys, text setters and the
/// ``RetryConfig`` they make.
extension ChannelOptions {
    /// The retry keys of ``set(_:_:)``, in header order.
    package static let retryKeys: [String] = [
        "retry_max_attempts", "retry_initial_backoff_ms", "retry_max_backoff_ms", "retry_backoff_multiplier",
        "retry_jitter", "retry_status_codes", "retry_throttle_max_tokens", "retry_throttle_token_ratio",
        "retry_buffer_bytes", "hedging_max_attempts", "hedging_delay_ms", "hedging_non_fatal_codes",
        "service_config",
    ]

    /// Sets one retry option; false when `key` is not one. On error `self` is unchanged.
    mutating func setRetry(_ key: String, _ value: String) throws(OptionError) -> Bool {
        switch key {
        case "retry_max_attempts":
            try setRetryMaxAttempts(try Self.integer(key, value))
        case "retry_initial_backoff_ms":
            let ms = try Self.integer(key, value)
            try setRetryBackoff(initialMs: ms, maxMs: retry.maxBackoffMs, multiplier: retry.backoffMultiplier, jitter: retry.jitter)
        case "retry_max_backoff_ms":
            let ms = try Self.integer(key, value)
            try setRetryBackoff(initialMs: retry.initialBackoffMs, maxMs: ms, multiplier: retry.backoffMultiplier, jitter: retry.jitter)
        case "retry_backoff_multiplier":
            let m = try Self.number(key, value)
            try setRetryBackoff(initialMs: retry.initialBackoffMs, maxMs: retry.maxBackoffMs, multiplier: m, jitter: retry.jitter)
        case "retry_jitter":
            let j = try Self.number(key, value)
            try setRetryBackoff(initialMs: retry.initialBackoffMs, maxMs: retry.maxBackoffMs, multiplier: retry.backoffMultiplier, jitter: j)
        case "retry_status_codes":
            retry.statusMask = try Self.statusMask(key, value)
        case "retry_throttle_max_tokens":
            let n = try Self.integer(key, value, in: 0...1000)
            retry.throttleMaxTokens = Int(n)
        case "retry_throttle_token_ratio":
            let r = try Self.number(key, value)
            guard r > 0, r <= 1000 else { throw .invalid(key, "must be > 0 and <= 1000, got \(value)") }
            retry.throttleTokenRatio = r
        case "retry_buffer_bytes":
            let n = try Self.integer(key, value, in: 0...Int64(Int32.max))
            retry.bufferBytes = Int(n)
        case "hedging_max_attempts":
            try setHedgingMaxAttempts(try Self.integer(key, value))
        case "hedging_delay_ms":
            let ms = try Self.integer(key, value)
            guard (0...86_400_000).contains(ms) else { throw .invalid(key, "must be between 0 and 86400000, got \(ms)") }
            retry.hedgingDelayMs = ms
        case "hedging_non_fatal_codes":
            retry.hedgingNonFatalMask = value.isEmpty ? 0 : try Self.statusMask(key, value)
        case "service_config":
            try setServiceConfig(value)
        default:
            return false
        }
        return true
    }

    /// `retry_max_attempts`: 0 or 1 = no retries; 2 or more (values above 5 count as 5,
    /// as A6 says). Refused while hedging is on.
    package mutating func setRetryMaxAttempts(_ n: Int64) throws(OptionError) {
        guard n >= 0 else { throw .invalid("retry_max_attempts", "must be >= 0, got \(n)") }
        if n > 1 && retry.hedgingMaxAttempts > 1 {
            throw .invalid("retry_max_attempts", "retries and hedging are exclusive: set hedging_max_attempts to 0 first")
        }
        retry.maxAttempts = Int(min(n, Int64(RetryPolicy.attemptLimit)))
    }

    /// `hedging_max_attempts`: 0 or 1 = no hedging; 2 or more (capped at 5). Refused
    /// while retries are on.
    package mutating func setHedgingMaxAttempts(_ n: Int64) throws(OptionError) {
        guard n >= 0 else { throw .invalid("hedging_max_attempts", "must be >= 0, got \(n)") }
        if n > 1 && retry.maxAttempts > 1 {
            throw .invalid("hedging_max_attempts", "retries and hedging are exclusive: set retry_max_attempts to 0 first")
        }
        retry.hedgingMaxAttempts = Int(min(n, Int64(RetryPolicy.attemptLimit)))
    }

    /// The retry backoff: initial > 0, max >= initial (both <= one day),
    /// multiplier >= 1.0, jitter 0.0 ... 1.0; all four or none are set.
    package mutating func setRetryBackoff(initialMs: Int64, maxMs: Int64, multiplier: Double, jitter: Double) throws(OptionError) {
        guard initialMs > 0, initialMs <= 86_400_000 else {
            throw .invalid("retry_initial_backoff_ms", "must be between 1 and 86400000, got \(initialMs)")
        }
        guard maxMs >= initialMs, maxMs <= 86_400_000 else {
            throw .invalid(maxMs == retry.maxBackoffMs ? "retry_initial_backoff_ms" : "retry_max_backoff_ms",
                           "retry_max_backoff_ms (\(maxMs)) must be >= retry_initial_backoff_ms (\(initialMs)) and <= 86400000")
        }
        guard multiplier.isFinite, multiplier >= 1 else {
            throw .invalid("retry_backoff_multiplier", "must be >= 1.0, got \(multiplier)")
        }
        guard jitter.isFinite, jitter >= 0, jitter <= 1 else {
            throw .invalid("retry_jitter", "must be between 0.0 and 1.0, got \(jitter)")
        }
        retry.initialBackoffMs = initialMs
        retry.maxBackoffMs = maxMs
        retry.backoffMultiplier = multiplier
        retry.jitter = jitter
    }

    /// `service_config`: a gRPC service config JSON text (its retry, hedging and
    /// throttling parts); "" removes it.
    package mutating func setServiceConfig(_ text: String) throws(OptionError) {
        if text.isEmpty {
            retry.serviceConfig = nil
            return
        }
        do {
            retry.serviceConfig = try ServiceConfig.parse(text)
        } catch {
            throw .invalid("service_config", error.message)
        }
    }

    /// The channel's retry configuration: the `retry_*` or `hedging_*` policy for every
    /// method, the service config's entries for the methods they name (its name-less
    /// entry applies when neither option is set), and the throttle
    /// (`retry_throttle_max_tokens`, else the service config's `retryThrottling`).
    package var retryConfig: RetryConfig {
        var config = RetryConfig()
        if retry.maxAttempts > 1 {
            config.channelPolicy = .retry(RetryPolicy(
                maxAttempts: retry.maxAttempts, initialBackoffMs: retry.initialBackoffMs, maxBackoffMs: retry.maxBackoffMs,
                backoffMultiplier: retry.backoffMultiplier, jitter: retry.jitter, retryableStatusMask: retry.statusMask))
        } else if retry.hedgingMaxAttempts > 1 {
            config.channelPolicy = .hedging(HedgingPolicy(
                maxAttempts: retry.hedgingMaxAttempts, delayMs: retry.hedgingDelayMs,
                nonFatalStatusMask: retry.hedgingNonFatalMask))
        } else if let policy = retry.serviceConfig?.defaultPolicy {
            config.channelPolicy = policy
        }
        if let service = retry.serviceConfig {
            config.methods = service.methods
        }
        if retry.throttleMaxTokens > 0 {
            config.throttleMaxTokens = retry.throttleMaxTokens
            config.throttleTokenRatio = retry.throttleTokenRatio
        } else if let throttle = retry.serviceConfig?.throttle {
            config.throttleMaxTokens = throttle.maxTokens
            config.throttleTokenRatio = throttle.tokenRatio
        }
        return config
    }
}
