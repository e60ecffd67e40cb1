/// Retry throttling (gRFC A6 `retryThrottling`): a token bucket shared by the calls
/// of a channel. Every call that fails with a retryable (or, hedging, non-fatal)
/// status takes one token; every OK call gives back `tokenRatio`. Retries and
/// further hedged copies are allowed only while more than half the tokens are left,
/// so a backend set where most calls fail is not flooded with retries.
///
/// Tokens are counted in thousandths, as A6's three decimal places allow.
///
/// ```swift
/// var throttle = RetryThrottle(maxTokens: 10, tokenRatio: 0.1)
/// for _ in 0..<5 { _ = throttle.recordFailure() }   // 5 tokens left
/// throttle.allowsRetries                              // false: not more than half
/// ```
package struct RetryThrottle: Sendable, Equatable {
    /// The bucket's size in thousandths of a token.
    package let maxMilliTokens: Int
    /// What an OK call gives back, in thousandths of a token.
    package let ratioMilliTokens: Int
    /// Tokens left, in thousandths.
    package private(set) var milliTokens: Int

    /// A full bucket of `maxTokens` (1 ... 1000); `tokenRatio` > 0 (three decimals kept).
    package init(maxTokens: Int, tokenRatio: Double) {
        maxMilliTokens = min(max(maxTokens, 1), 1000) * 1000
        let ratio = tokenRatio.isFinite ? (tokenRatio * 1000).rounded() : 1
        ratioMilliTokens = Int(min(max(ratio, 1), 1_000_000))
        milliTokens = maxMilliTokens
    }

    /// More than half the bucket is left.
    package var allowsRetries: Bool { milliTokens > maxMilliTokens / 2 }

    /// A call failed with a retryable status: take a token. Returns ``allowsRetries``.
    package mutating func recordFailure() -> Bool {
        milliTokens = max(0, milliTokens - 1000)
        return allowsRetries
    }

    /// A call ended OK: give back `tokenRatio`.
    package mutating func recordSuccess() {
        milliTokens = min(maxMilliTokens, milliTokens + ratioMilliTokens)
    }
}
