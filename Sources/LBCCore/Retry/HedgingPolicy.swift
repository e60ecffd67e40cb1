/// A hedging policy (gRFC A6 `hedgingPolicy`): send the same request again after
/// `delayMs` while no answer came, up to `maxAttempts` copies in flight; the first
/// answer that is OK or a fatal status wins, the other copies are cancelled.
/// Only for unary calls (idempotent methods: the server may run several copies).
///
/// ```swift
/// let policy = HedgingPolicy(maxAttempts: 3, delayMs: 50, nonFatalStatusMask: RetryPolicy.mask([.unavailable]))
/// policy.isNonFatal(.unavailable)   // true: wait for another copy
/// ```
package struct HedgingPolicy: Sendable, Equatable {
    /// Copies in all, the first included (2 ... 5).
    package var maxAttempts: Int
    /// Time between two copies, in milliseconds (>= 0).
    package var delayMs: Int64
    /// Bit `1 << code` for each status that does not end the call (another copy may still answer).
    package var nonFatalStatusMask: UInt32

    /// A policy; `maxAttempts` is clamped to 2 ... 5 and `delayMs` to >= 0.
    package init(maxAttempts: Int, delayMs: Int64, nonFatalStatusMask: UInt32) {
        self.maxAttempts = min(max(maxAttempts, 2), RetryPolicy.attemptLimit)
        self.delayMs = max(delayMs, 0)
        self.nonFatalStatusMask = nonFatalStatusMask
    }

    /// True when `status` lets the other copies go on.
    @inline(__always)
    package func isNonFatal(_ status: StatusCode) -> Bool {
        nonFatalStatusMask & (1 << UInt32(status.rawValue)) != 0
    }
}
