/// The values of the retry options (see ``ChannelOptions/retryKeys``).
package struct RetryOptions: Sendable, Equatable {
    /// `retry_max_attempts` (0/1: off).
    package var maxAttempts = 0
    /// `retry_initial_backoff_ms`.
    package var initialBackoffMs: Int64 = 100
    /// `retry_max_backoff_ms`.
    package var maxBackoffMs: Int64 = 1000
    /// `retry_backoff_multiplier`.
    package var backoffMultiplier = 2.0
    /// `retry_jitter` (1: A6's uniform 0 ... backoff).
    package var jitter = 1.0
    /// `retry_status_codes`.
    package var statusMask: UInt32 = 1 << UInt32(StatusCode.unavailable.rawValue)
    /// `retry_throttle_max_tokens` (0: no throttling).
    package var throttleMaxTokens = 0
    /// `retry_throttle_token_ratio`.
    package var throttleTokenRatio = 0.1
    /// `retry_buffer_bytes`: request bytes a streaming call keeps for a retry.
    package var bufferBytes = 256 << 10
    /// `hedging_max_attempts` (0/1: off).
    package var hedgingMaxAttempts = 0
    /// `hedging_delay_ms`.
    package var hedgingDelayMs: Int64 = 0
    /// `hedging_non_fatal_codes`.
    package var hedgingNonFatalMask: UInt32 = 0
    /// `service_config`, parsed.
    package var serviceConfig: ServiceConfig?

    /// All defaults.
    package init() {}
}
