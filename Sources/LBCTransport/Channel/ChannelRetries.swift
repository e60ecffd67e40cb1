import LBCCore

/// A channel's retry and hedging state (loop thread only): the configuration, the
/// shared throttle, the random source of the backoff jitter, and the calls waiting
/// out a backoff or a hedging delay (so closing the channel can end them).
final class ChannelRetries {
    /// The policies by method.
    let config: RetryConfig
    /// Some method has a policy: calls look theirs up when they enter the loop.
    let enabled: Bool
    /// The channel's token bucket (nil: no throttling).
    var throttle: RetryThrottle?
    /// Jitter for the backoffs.
    var random: SplitMix64
    /// Calls between two attempts, and hedged calls, by identity.
    var pending: [ObjectIdentifier: Call] = [:]

    init(config: RetryConfig, seed: UInt64 = UInt64.random(in: .min ... .max)) {
        self.config = config
        self.enabled = config.isEnabled
        self.throttle = config.throttle
        self.random = SplitMix64(seed: seed)
    }
}
