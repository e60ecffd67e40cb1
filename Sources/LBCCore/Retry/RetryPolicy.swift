/// A retry policy (gRFC A6 `retryPolicy`): how many attempts an RPC may make, how
/// long it waits between them and which statuses are worth another attempt.
///
/// A value with no I/O; ``RetryState`` applies it to one call.
///
/// ```swift
/// let policy = RetryPolicy(maxAttempts: 3, initialBackoffMs: 100, maxBackoffMs: 1000,
///                          backoffMultiplier: 2, jitter: 1, retryableStatusMask: RetryPolicy.mask([.unavailable]))
/// var rng = SplitMix64(seed: 1)
/// policy.backoffNs(retry: 1, random: &rng)   // 0 ... 100 ms (A6: uniform up to the backoff)
/// ```
package struct RetryPolicy: Sendable, Equatable {
    /// The most attempts A6 allows; larger settings are clamped to it.
    package static let attemptLimit = 5

    /// Attempts in all, the first included (2 ... 5).
    package var maxAttempts: Int
    /// The backoff before the first retry, in milliseconds (> 0).
    package var initialBackoffMs: Int64
    /// The largest backoff, in milliseconds (>= initialBackoffMs).
    package var maxBackoffMs: Int64
    /// Growth of the backoff per retry (> 0).
    package var backoffMultiplier: Double
    /// Share of the backoff that is random (0 ... 1): the delay is uniform in
    /// `backoff × (1 - jitter) ... backoff`. 1 is A6's `random(0, backoff)`.
    package var jitter: Double
    /// Bit `1 << code` for each retryable status code.
    package var retryableStatusMask: UInt32

    /// A policy; `maxAttempts` is clamped to 2 ... 5, the backoffs to sane ranges.
    package init(maxAttempts: Int, initialBackoffMs: Int64, maxBackoffMs: Int64, backoffMultiplier: Double,
                 jitter: Double = 1, retryableStatusMask: UInt32) {
        self.maxAttempts = min(max(maxAttempts, 2), Self.attemptLimit)
        self.initialBackoffMs = max(initialBackoffMs, 1)
        self.maxBackoffMs = max(maxBackoffMs, self.initialBackoffMs)
        self.backoffMultiplier = backoffMultiplier.isFinite && backoffMultiplier > 0 ? backoffMultiplier : 1
        self.jitter = jitter.isFinite ? min(max(jitter, 0), 1) : 1
        self.retryableStatusMask = retryableStatusMask
    }

    /// The mask of `codes`.
    package static func mask(_ codes: [StatusCode]) -> UInt32 {
        codes.reduce(0) { $0 | 1 << UInt32($1.rawValue) }
    }

    /// True when `status` is one of the retryable codes.
    @inline(__always)
    package func isRetryable(_ status: StatusCode) -> Bool {
        retryableStatusMask & (1 << UInt32(status.rawValue)) != 0
    }

    /// The delay before retry number `retry` (1 for the first retry) counted since the
    /// backoff was last reset: `min(initial × multiplier^(retry-1), max)`, jittered.
    package func backoffNs(retry: Int, random: inout SplitMix64) -> Int64 {
        var backoff = Double(initialBackoffMs)
        var n = 1
        while n < retry && backoff < Double(maxBackoffMs) {
            backoff *= backoffMultiplier
            n += 1
        }
        backoff = min(backoff, Double(maxBackoffMs))
        // A uniform value in [0, 1) from the top 53 bits.
        let u = Double(random.next() >> 11) * 0x1p-53
        let delayMs = backoff * (1 - jitter * u)
        return Int64(delayMs * 1_000_000)
    }
}
