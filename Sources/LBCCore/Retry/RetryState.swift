/// The retry decisions of one call under a ``RetryPolicy`` (gRFC A6), without I/O:
/// after each failed attempt it says whether to try again and after how long.
///
/// The call path owns one per call that has a policy (calls without a policy carry
/// none and pay nothing). Time comes back as a delay, randomness from the channel's
/// ``SplitMix64``, throttling from the channel's ``RetryThrottle``.
///
/// Rules, in A6's order: an OK attempt gives the throttle its tokens back and ends
/// the call; a status not in the policy ends it; a retryable failure takes a token
/// and ends the call when the bucket is at half or less; a committed call (response
/// headers seen, or more request than the retry buffer holds) ends; a server
/// pushback (`grpc-retry-pushback-ms`) that is not a non-negative integer ends it;
/// the last allowed attempt ends it. Otherwise the next attempt starts after the
/// pushback, or after the jittered backoff (which a pushback resets).
///
/// ```swift
/// var state = RetryState(policy: policy)
/// var throttle: RetryThrottle? = nil
/// var rng = SplitMix64(seed: 7)
/// switch state.attemptEnded(status: .unavailable, pushback: nil, committed: false,
///                           throttle: &throttle, random: &rng) {
/// case .retry(let delayNs): break   // schedule attempt 2 after delayNs
/// case .finish: break               // deliver the status
/// }
/// ```
package struct RetryState: Sendable {
    /// What to do after an attempt ended.
    package enum Decision: Equatable, Sendable {
        /// Start the next attempt after `delayNs`.
        case retry(delayNs: Int64)
        /// Deliver this attempt's status.
        case finish
    }

    /// What the server's `grpc-retry-pushback-ms` trailer says.
    package enum Pushback: Equatable, Sendable {
        /// Retry after exactly this many milliseconds.
        case delayMs(Int64)
        /// Do not retry (a negative or malformed value).
        case stop
    }

    /// The trailer's name.
    package static let pushbackKey = "grpc-retry-pushback-ms"
    /// The request header that counts earlier attempts (sent from the second on).
    package static let previousAttemptsKey = "grpc-previous-rpc-attempts"

    /// The policy.
    package let policy: RetryPolicy
    /// Attempts started so far (1 once the first one is on its way).
    package private(set) var attempts = 1
    /// Retries since the backoff was last reset (by a pushback).
    private var backoffRetries = 0

    /// The state of a call's first attempt under `policy`.
    package init(policy: RetryPolicy) {
        self.policy = policy
    }

    /// The pushback a trailer value means (nil: no trailer).
    package static func pushback(_ text: String?) -> Pushback? {
        guard let text else { return nil }
        guard !text.isEmpty, text.utf8.count <= 18, text.utf8.allSatisfy(ASCII.isDigit), let ms = Int64(text) else {
            return .stop
        }
        return .delayMs(ms)
    }

    /// The current attempt ended with `status`. `committed`: the call can no longer be
    /// retried (response headers arrived, or its request outgrew the retry buffer).
    package mutating func attemptEnded(status: StatusCode, pushback: Pushback?, committed: Bool,
                                       throttle: inout RetryThrottle?, random: inout SplitMix64) -> Decision {
        if status == .ok {
            throttle?.recordSuccess()
            return .finish
        }
        guard policy.isRetryable(status) else { return .finish }
        if throttle != nil, !throttle!.recordFailure() { return .finish }
        if committed || attempts >= policy.maxAttempts { return .finish }
        let delayNs: Int64
        switch pushback {
        case .stop?:
            return .finish
        case .delayMs(let ms)?:
            delayNs = ms.multipliedReportingOverflow(by: 1_000_000).overflow ? Int64.max : ms * 1_000_000
            backoffRetries = 0
        case nil:
            backoffRetries += 1
            delayNs = policy.backoffNs(retry: backoffRetries, random: &random)
        }
        attempts += 1
        return .retry(delayNs: delayNs)
    }
}
