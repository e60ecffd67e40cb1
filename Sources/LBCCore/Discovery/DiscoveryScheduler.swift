/// When to run the next resolution: periodic (discovery_interval or TTL with a floor),
/// retries with backoff after errors, and early re-resolution on connection loss / GOAWAY
/// rate-limited by min_reresolution_interval. The owner keeps at most ONE timer: on
/// `.schedule(atMs:)` it replaces any previous timer.
///
/// No I/O and no clock: every event takes the owner's monotonic time in milliseconds and
/// returns the ``Action`` to carry out. `.resolveNow` marks a resolution in progress until
/// the owner reports its result; the owner's timer may still be armed then, and its firing
/// during the resolution is ignored.
///
/// ```swift
/// var scheduler = DiscoveryScheduler(options: options)
/// perform(scheduler.start(nowMs: now))                                   // .resolveNow
/// // ... the lookup answered with a TTL of 30 s:
/// perform(scheduler.resolutionSucceeded(nowMs: now, ttlSeconds: 30))     // .schedule(atMs: ...)
/// // ... a connection was lost:
/// perform(scheduler.reresolutionRequested(nowMs: now))
/// ```
package struct DiscoveryScheduler: Sendable {
    /// What the owner must do after an event.
    package enum Action: Equatable, Sendable {
        /// Start a resolution now; report its result with ``resolutionSucceeded(nowMs:ttlSeconds:)``
        /// or ``resolutionFailed(nowMs:)``.
        case resolveNow
        /// (Re)arm the single timer for this monotonic time, replacing any armed timer;
        /// call ``timerFired(nowMs:)`` when it expires.
        case schedule(atMs: Int64)
        /// Nothing to do.
        case none
    }

    /// Time between the end of a successful resolution and the next one.
    package let intervalMs: Int64
    /// Least time between the starts of a resolution and an early re-resolution.
    package let minReresolutionIntervalMs: Int64
    /// Whether a successful resolution's TTL replaces ``intervalMs``.
    package let useTTL: Bool
    /// Shortest wait derived from a TTL.
    package let ttlFloorMs: Int64
    /// Retry delays after failed resolutions; reset by a success.
    private var errorBackoff: ConnectionBackoff
    private let random: @Sendable () -> Double

    /// True from `.resolveNow` until the result is reported.
    package private(set) var inProgress = false
    /// When the timer is armed for (the last `.schedule(atMs:)`), nil when no timer is armed.
    package private(set) var nextAtMs: Int64? = nil
    /// When the last resolution started.
    package private(set) var lastStartMs: Int64? = nil
    /// Completed resolutions (success + failure).
    package private(set) var resolutions = 0
    /// Failed resolutions.
    package private(set) var failures = 0

    /// Negative durations are treated as 0 (``ChannelOptions`` rejects them before they get
    /// here). `random` returns a uniform value in -1.0...1.0 for the backoff's jitter.
    package init(intervalMs: Int64, minReresolutionIntervalMs: Int64, useTTL: Bool, ttlFloorMs: Int64,
                 errorBackoff: ConnectionBackoff, random: @escaping @Sendable () -> Double = { Double.random(in: -1...1) }) {
        self.intervalMs = max(0, intervalMs)
        self.minReresolutionIntervalMs = max(0, minReresolutionIntervalMs)
        self.useTTL = useTTL
        self.ttlFloorMs = max(0, ttlFloorMs)
        self.errorBackoff = errorBackoff
        self.random = random
    }

    /// From `discovery_interval_ms`, `min_reresolution_interval_ms`, `dns_use_ttl`,
    /// `dns_ttl_floor_ms` and ``ChannelOptions/discoveryErrorBackoff``.
    package init(options: ChannelOptions) {
        self.init(intervalMs: options.discoveryIntervalMs,
                  minReresolutionIntervalMs: options.minReresolutionIntervalMs,
                  useTTL: options.dnsUseTTL, ttlFloorMs: options.dnsTTLFloorMs,
                  errorBackoff: options.discoveryErrorBackoff)
    }

    /// The first resolution: `.resolveNow` (`.none` if one is already in progress).
    package mutating func start(nowMs: Int64) -> Action {
        guard !inProgress else { return .none }
        return resolveNow(nowMs)
    }

    /// A resolution produced addresses (possibly an empty answer — still "succeeded" for scheduling).
    /// Next at now + interval, or, with useTTL and a ttl, now + max(ttlSeconds*1000, ttlFloor). Resets the error backoff.
    package mutating func resolutionSucceeded(nowMs: Int64, ttlSeconds: UInt32?) -> Action {
        finish()
        errorBackoff.reset()
        var delay = intervalMs
        if useTTL, let ttlSeconds {
            delay = max(Int64(ttlSeconds) * 1000, ttlFloorMs)
        }
        return schedule(Self.adding(nowMs, delay))
    }

    /// A resolution failed: next at now + errorBackoff delay (capped at interval by the backoff's max).
    ///
    /// The backoff grows with each consecutive failure and never exceeds the interval.
    /// The last known good endpoints stay in use (the owner's job).
    package mutating func resolutionFailed(nowMs: Int64) -> Action {
        finish()
        failures += 1
        return schedule(Self.adding(nowMs, min(errorBackoff.nextDelayMs(random: random), intervalMs)))
    }

    /// A connection was lost or GOAWAY arrived: resolve early, rate-limited: if a resolution is in
    /// progress → .none; if now - lastStart >= minReresolution → .resolveNow; else schedule at
    /// lastStart + minReresolution if that is earlier than the armed time, else .none.
    ///
    /// Before any resolution started, `.resolveNow`.
    package mutating func reresolutionRequested(nowMs: Int64) -> Action {
        guard !inProgress else { return .none }
        guard let lastStartMs else { return resolveNow(nowMs) }
        let earliest = Self.adding(lastStartMs, minReresolutionIntervalMs)
        if nowMs >= earliest { return resolveNow(nowMs) }
        if let nextAtMs, nextAtMs <= earliest { return .none }
        return schedule(earliest)
    }

    /// The timer fired: .resolveNow unless a resolution is in progress (then .none).
    package mutating func timerFired(nowMs: Int64) -> Action {
        nextAtMs = nil
        guard !inProgress else { return .none }
        return resolveNow(nowMs)
    }

    private mutating func resolveNow(_ nowMs: Int64) -> Action {
        inProgress = true
        lastStartMs = nowMs
        nextAtMs = nil
        return .resolveNow
    }

    private mutating func finish() {
        inProgress = false
        resolutions += 1
    }

    private mutating func schedule(_ atMs: Int64) -> Action {
        nextAtMs = atMs
        return .schedule(atMs: atMs)
    }

    /// `base + delay`, saturating instead of trapping.
    private static func adding(_ base: Int64, _ delay: Int64) -> Int64 {
        let (sum, overflow) = base.addingReportingOverflow(delay)
        return overflow ? (delay > 0 ? Int64.max : Int64.min) : sum
    }
}
