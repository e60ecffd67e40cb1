/// Every channel option with its default (include/lbchannel.h, `lbc_options_set`).
///
/// Setters validate first and change nothing on error, so a failed call leaves the
/// options as they were.
///
/// ```swift
/// var options = ChannelOptions()
/// try options.set("lb_policy", "round_robin")
/// try options.set("connect_timeout_ms", "5000")
/// var backoff = options.backoff
/// ```
package struct ChannelOptions: Sendable, Equatable {
    /// `lb_policy`.
    package var lbPolicy: LBPolicy = .leastRequest
    /// `connect_timeout_ms` (> 0).
    package var connectTimeoutMs: Int64 = 20_000
    /// `wait_for_ready`: wait for a usable endpoint until the deadline instead of failing
    /// fast with UNAVAILABLE.
    package var waitForReady = false
    /// `max_send_message_size` in bytes (0 ... Int32.max).
    package var maxSendMessageSize = Int(Int32.max)
    /// `max_receive_message_size` in bytes (0 ... Int32.max).
    package var maxReceiveMessageSize = 4 * 1024 * 1024
    /// `backoff_initial_ms` (> 0, <= backoff_max_ms).
    package var backoffInitialMs: Int64 = 1000
    /// `backoff_multiplier` (>= 1.0).
    package var backoffMultiplier = 1.6
    /// `backoff_jitter` (0.0 ... 1.0).
    package var backoffJitter = 0.2
    /// `backoff_max_ms` (>= backoff_initial_ms).
    package var backoffMaxMs: Int64 = 120_000
    /// `backoff_reset_after_ms` (>= 0): how long a connection must stay READY before its
    /// loss or GOAWAY resets the backoff; one that ends sooner is retried with backoff.
    package var backoffResetAfterMs: Int64 = 5000
    /// `authority`: the `:authority` header (and TLS host name); nil means each endpoint's
    /// host:port.
    package var authority: String? = nil
    /// `user_agent`: a prefix of the user-agent header; nil for none.
    package var userAgent: String? = nil
    /// `discovery_interval_ms`: how often discovery re-resolves the target (>= 100).
    package var discoveryIntervalMs: Int64 = 10_000
    /// `min_reresolution_interval_ms`: the least time between the starts of two resolutions
    /// triggered early by connection loss or GOAWAY (>= 0).
    package var minReresolutionIntervalMs: Int64 = 1_000
    /// `dns_use_ttl`: schedule the next DNS resolution after the answer's TTL (at least
    /// `dns_ttl_floor_ms`) instead of `discovery_interval_ms`.
    package var dnsUseTTL = false
    /// `dns_ttl_floor_ms`: the shortest wait when `dns_use_ttl` is on (>= 100).
    package var dnsTTLFloorMs: Int64 = 1_000
    /// `empty_answer`: `keep` the last known good endpoints (the default) or `apply` an empty
    /// answer.
    package var emptyAnswer: EmptyAnswerPolicy = .keep
    /// `resolution`: `lazy` (open returns at once, the default) or `eager` (open waits for
    /// the first resolution).
    package var resolution: ResolutionMode = .lazy
    /// `eager_timeout_ms`: how long an eager open waits for the first resolution (> 0).
    package var eagerTimeoutMs: Int64 = 5_000
    /// `dns_srv`: resolve SRV records as well as A/AAAA.
    package var dnsSRV = false
    /// `dns_timeout_ms`: the timeout of each DNS query attempt (> 0).
    package var dnsTimeoutMs: Int64 = 2_000
    /// `stream_window_bytes`: each stream's HTTP/2 receive window (SETTINGS_INITIAL_WINDOW_SIZE,
    /// 1024 ... 2^31-1). A streaming call holds at most about this much unread data.
    package var streamWindowBytes = 4 << 20
    /// `stream_send_buffer_bytes`: how many bytes a streaming call queues for sending
    /// before a send blocks (>= 0; one message is always accepted into an empty buffer).
    package var streamSendBufferBytes = 64 << 10
    /// The `tls*` options (plaintext unless `tls` is on); see ``TLSOptions``.
    package var tls = TLSOptions()

    // MARK: balancing (see ChannelOptions+Balancing.swift)

    /// `least_request_choice_count`: endpoints drawn per pick by least_request (2 ... 10).
    package var leastRequestChoiceCount = 2
    /// `peak_ewma_decay_ms`: time constant of peak_ewma's latency averages (>= 1).
    package var peakEWMADecayMs: Int64 = 10_000
    /// `outlier_*`: outlier ejection (off unless `outlier_consecutive_failures` > 0).
    package var outlierEjection = OutlierEjection()
    /// `slow_start_window_ms`: a newly READY endpoint ramps its share over this window (0 = off).
    package var slowStartWindowMs: Int64 = 0
    /// `slow_start_min_weight_percent`: its weight right after it became READY (1 ... 100).
    package var slowStartMinWeightPercent = 10
    /// `subset_size`: connect to at most this many of the discovered endpoints, chosen
    /// by rendezvous hashing of the client id (0 = all).
    package var subsetSize = 0
    /// `subset_client_id`: the id subsetting hashes; nil: random per channel.
    package var subsetClientID: String? = nil
    /// `health_check_service`: grpc.health.v1 health checking of every endpoint with this
    /// service name ("" included); nil: off (see ChannelOptions+Health.swift).
    package var healthCheckService: String? = nil
    /// The `retry_*`, `hedging_*` and `service_config` options (see ChannelOptions+Retry.swift).
    package var retry = RetryOptions()

    // MARK: keepalive (see ChannelOptions+Keepalive.swift)

    /// `keepalive_time_ms`: PING a connection this long after the last byte read from
    /// its peer (0 = keepalive off).
    package var keepaliveTimeMs: Int64 = 0
    /// `keepalive_timeout_ms`: how long a PING may go unanswered before the connection
    /// is declared dead.
    package var keepaliveTimeoutMs: Int64 = 20_000
    /// `keepalive_permit_without_calls`: PING connections that have no open stream too.
    package var keepalivePermitWithoutCalls = false

    /// All defaults.
    package init() {}

    /// Every valid key of ``set(_:_:)``, in header order.
    package static let keys: [String] = [
        "lb_policy", "connect_timeout_ms", "wait_for_ready", "max_send_message_size",
        "max_receive_message_size", "backoff_initial_ms", "backoff_multiplier", "backoff_jitter",
        "backoff_max_ms", "authority", "user_agent", "discovery_interval_ms",
        "min_reresolution_interval_ms", "dns_use_ttl", "dns_ttl_floor_ms", "empty_answer", "resolution",
        "eager_timeout_ms", "dns_srv", "dns_timeout_ms", "stream_window_bytes", "stream_send_buffer_bytes",
        "backoff_reset_after_ms",
    ] + TLSOptions.keys + balancingKeys + keepaliveKeys + retryKeys + healthKeys

    /// The connection backoff configured by the backoff_* fields.
    package var backoff: ConnectionBackoff {
        ConnectionBackoff(initialMs: backoffInitialMs, multiplier: backoffMultiplier,
                          jitter: backoffJitter, maxMs: backoffMaxMs)
    }

    /// Backoff for retrying failed lookups: initial 1000 ms, x1.6, jitter 0.2, capped at discoveryIntervalMs.
    ///
    /// The initial delay is `min(1000, discoveryIntervalMs)`, so a retry never waits longer
    /// than a regular resolution would (before jitter).
    package var discoveryErrorBackoff: ConnectionBackoff {
        ConnectionBackoff(initialMs: min(1000, discoveryIntervalMs), multiplier: 1.6, jitter: 0.2,
                          maxMs: discoveryIntervalMs)
    }

    /// Sets one option from its text form. Keys are exactly those of ``keys``; durations
    /// are milliseconds, sizes bytes, booleans 1/0/true/false/yes/no/on/off (any case).
    /// On error `self` is unchanged.
    package mutating func set(_ key: String, _ value: String) throws(OptionError) {
        switch key {
        case "lb_policy":
            guard let policy = LBPolicy(name: value) else {
                throw .invalid(key, "\(ASCII.quoted(value)) is not a policy"
                    + " (\(LBPolicy.allCases.map(\.name).joined(separator: ", ")))")
            }
            lbPolicy = policy
        case "connect_timeout_ms":
            try setConnectTimeout(ms: try Self.integer(key, value))
        case "wait_for_ready":
            waitForReady = try Self.boolean(key, value)
        case "max_send_message_size":
            let size = try Self.integer(key, value)
            try Self.checkMessageSize(key, size)
            maxSendMessageSize = Int(size)
        case "max_receive_message_size":
            let size = try Self.integer(key, value)
            try Self.checkMessageSize(key, size)
            maxReceiveMessageSize = Int(size)
        case "backoff_initial_ms":
            let ms = try Self.integer(key, value)
            try setBackoff(initialMs: ms, multiplier: backoffMultiplier, jitter: backoffJitter, maxMs: backoffMaxMs)
        case "backoff_multiplier":
            let multiplier = try Self.number(key, value)
            try setBackoff(initialMs: backoffInitialMs, multiplier: multiplier, jitter: backoffJitter, maxMs: backoffMaxMs)
        case "backoff_jitter":
            let jitter = try Self.number(key, value)
            try setBackoff(initialMs: backoffInitialMs, multiplier: backoffMultiplier, jitter: jitter, maxMs: backoffMaxMs)
        case "backoff_max_ms":
            let ms = try Self.integer(key, value)
            try setBackoff(initialMs: backoffInitialMs, multiplier: backoffMultiplier, jitter: backoffJitter, maxMs: ms)
        case "backoff_reset_after_ms":
            let ms = try Self.integer(key, value)
            try Self.checkMinimum(key, ms, 0)
            backoffResetAfterMs = ms
        case "authority":
            try setAuthority(value)
        case "user_agent":
            try setUserAgent(value)
        case "discovery_interval_ms":
            let ms = try Self.integer(key, value)
            try Self.checkMinimum(key, ms, 100)
            discoveryIntervalMs = ms
        case "stream_window_bytes":
            let bytes = try Self.integer(key, value)
            try Self.checkMinimum(key, bytes, 1024)
            guard bytes <= Int64(Int32.max) else { throw .invalid(key, "must be <= \(Int32.max), got \(bytes)") }
            streamWindowBytes = Int(bytes)
        case "stream_send_buffer_bytes":
            let bytes = try Self.integer(key, value)
            try Self.checkMinimum(key, bytes, 0)
            guard bytes <= Int64(Int32.max) else { throw .invalid(key, "must be <= \(Int32.max), got \(bytes)") }
            streamSendBufferBytes = Int(bytes)
        case "min_reresolution_interval_ms":
            let ms = try Self.integer(key, value)
            try Self.checkMinimum(key, ms, 0)
            minReresolutionIntervalMs = ms
        case "dns_use_ttl":
            dnsUseTTL = try Self.boolean(key, value)
        case "dns_ttl_floor_ms":
            let ms = try Self.integer(key, value)
            try Self.checkMinimum(key, ms, 100)
            dnsTTLFloorMs = ms
        case "empty_answer":
            emptyAnswer = try Self.choice(key, value, of: EmptyAnswerPolicy.self)
        case "resolution":
            resolution = try Self.choice(key, value, of: ResolutionMode.self)
        case "eager_timeout_ms":
            let ms = try Self.integer(key, value)
            try Self.checkPositive(key, ms)
            eagerTimeoutMs = ms
        case "dns_srv":
            dnsSRV = try Self.boolean(key, value)
        case "dns_timeout_ms":
            let ms = try Self.integer(key, value)
            try Self.checkPositive(key, ms)
            dnsTimeoutMs = ms
        case _ where key.hasPrefix("tls") && TLSOptions.keys.contains(key):
            try tls.set(key, value)
        default:
            if try setBalancing(key, value) { return }
            if try setKeepalive(key, value) { return }
            if try setRetry(key, value) { return }
            if try setHealth(key, value) { return }
            throw OptionError(kind: .unknownKey, message: "unknown option \(ASCII.quoted(key))"
                + " (valid options: \(Self.keys.joined(separator: ", ")))")
        }
    }

    /// Sets all four backoff fields after checking: initial > 0, multiplier >= 1.0,
    /// jitter in 0.0...1.0, max >= initial.
    package mutating func setBackoff(initialMs: Int64, multiplier: Double, jitter: Double, maxMs: Int64) throws(OptionError) {
        guard initialMs > 0 else {
            throw .invalid("backoff_initial_ms", "must be > 0, got \(initialMs)")
        }
        guard multiplier.isFinite, multiplier >= 1.0 else {
            throw .invalid("backoff_multiplier", "must be >= 1.0, got \(multiplier)")
        }
        guard jitter.isFinite, jitter >= 0.0, jitter <= 1.0 else {
            throw .invalid("backoff_jitter", "must be between 0.0 and 1.0, got \(jitter)")
        }
        guard maxMs >= initialMs else {
            throw .invalid(maxMs == backoffMaxMs ? "backoff_initial_ms" : "backoff_max_ms",
                           "backoff_max_ms (\(maxMs)) must be >= backoff_initial_ms (\(initialMs))")
        }
        backoffInitialMs = initialMs
        backoffMultiplier = multiplier
        backoffJitter = jitter
        backoffMaxMs = maxMs
    }

    /// Sets `connect_timeout_ms` (> 0).
    package mutating func setConnectTimeout(ms: Int64) throws(OptionError) {
        guard ms > 0 else { throw .invalid("connect_timeout_ms", "must be > 0, got \(ms)") }
        connectTimeoutMs = ms
    }

    /// Sets both message size limits (each 0 ... Int32.max bytes).
    package mutating func setMaxMessageSizes(send: Int64, receive: Int64) throws(OptionError) {
        try Self.checkMessageSize("max_send_message_size", send)
        try Self.checkMessageSize("max_receive_message_size", receive)
        maxSendMessageSize = Int(send)
        maxReceiveMessageSize = Int(receive)
    }

    /// Sets `authority`: nil restores the default; otherwise 1+ bytes of 0x21...0x7E.
    package mutating func setAuthority(_ value: String?) throws(OptionError) {
        if let value { try Self.checkText("authority", value, lowest: 0x21) }
        authority = value
    }

    /// Sets `user_agent`: nil removes it; otherwise 1+ bytes of 0x20...0x7E.
    package mutating func setUserAgent(_ value: String?) throws(OptionError) {
        if let value { try Self.checkText("user_agent", value, lowest: 0x20) }
        userAgent = value
    }
}
