/// What a method's calls do after a failure: nothing (the default), retry
/// (``RetryPolicy``) or hedge (``HedgingPolicy``). A6 allows one or the other.
package enum CallRetryPolicy: Sendable, Equatable {
    /// One attempt (transparent retries of unprocessed requests still happen).
    case none
    /// Retry failed attempts.
    case retry(RetryPolicy)
    /// Send hedged copies (unary calls only; streaming calls make one attempt).
    case hedging(HedgingPolicy)
}
