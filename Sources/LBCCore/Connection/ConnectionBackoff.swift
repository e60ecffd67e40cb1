/// gRPC connection backoff (grpc/grpc doc/connection-backoff.md): the delay before each
/// reconnection attempt to an endpoint.
///
/// ```swift
/// var backoff = ConnectionBackoff()          // 1 s, ×1.6, ±20 %, max 120 s
/// backoff.nextDelayMs()                      // 800...1200
/// backoff.nextDelayMs()                      // 1280...1920
/// backoff.reset()                            // after a connection became READY
/// ```
package struct ConnectionBackoff: Sendable {
    /// The first backoff, in milliseconds.
    package let initialMs: Int64
    /// Growth factor after each attempt (>= 1).
    package let multiplier: Double
    /// Relative jitter (0...1): each delay is the current backoff × (1 ± jitter).
    package let jitter: Double
    /// Upper bound of the current backoff (before jitter), in milliseconds.
    package let maxMs: Int64
    /// The backoff the next delay is computed from, in milliseconds.
    private var currentMs: Double

    /// Out-of-range values are clamped: negative delays to 0, multiplier to >= 1, jitter to
    /// 0...1, max to >= initial (ChannelOptions rejects such values before they get here).
    package init(initialMs: Int64 = 1000, multiplier: Double = 1.6, jitter: Double = 0.2, maxMs: Int64 = 120_000) {
        let initial = max(0, initialMs)
        self.initialMs = initial
        self.multiplier = multiplier.isFinite ? max(1.0, multiplier) : 1.0
        self.jitter = jitter.isFinite ? min(max(jitter, 0.0), 1.0) : 0.0
        self.maxMs = max(initial, maxMs)
        self.currentMs = Double(initial)
    }

    /// The delay before the next attempt: the current backoff with ±jitter applied
    /// (`current × (1 + jitter × random())`, rounded to the nearest millisecond), then the
    /// current backoff grows by `multiplier` up to `maxMs`. `random` returns a uniform value
    /// in -1.0...1.0 (values outside are clamped).
    package mutating func nextDelayMs(random: () -> Double) -> Int64 {
        var factor = random()
        factor = factor.isFinite ? min(max(factor, -1.0), 1.0) : 0.0
        let delay = currentMs * (1.0 + jitter * factor)
        currentMs = min(currentMs * multiplier, Double(maxMs))
        return Self.milliseconds(delay)
    }

    /// ``nextDelayMs(random:)`` with `Double.random(in: -1...1)`.
    package mutating func nextDelayMs() -> Int64 {
        nextDelayMs(random: { Double.random(in: -1.0...1.0) })
    }

    /// Back to `initialMs` (call when a connection attempt succeeds).
    package mutating func reset() {
        currentMs = Double(initialMs)
    }

    /// Rounds to the nearest Int64, saturating instead of trapping.
    private static func milliseconds(_ value: Double) -> Int64 {
        let rounded = value.rounded()
        if !(rounded > 0) { return 0 }
        if rounded >= 9.2e18 { return Int64.max }
        return Int64(rounded)
    }
}
