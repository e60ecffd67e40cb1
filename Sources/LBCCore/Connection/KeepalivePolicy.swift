/// A channel's keepalive settings (gRFC A8), shared by all its connections, with the
/// one piece of channel-wide state: the keepalive time grows when a server answers
/// `GOAWAY ENHANCE_YOUR_CALM "too_many_pings"`.
///
/// Each new connection takes the policy's current ``timeMs``; a connection keeps the
/// time it was made with. When a connection that pinged every `T` ms is told
/// "too_many_pings", the channel's time becomes `max(current, 2 × T)` (capped at
/// ``maxTimeMs``): several connections that hit the limit at once double it once,
/// not once each (gRPC C-core keeps the channel's time the same way).
///
/// ```swift
/// var policy = KeepalivePolicy(timeMs: 10_000, timeoutMs: 20_000, permitWithoutCalls: false)
/// var machine = KeepaliveStateMachine(policy: policy)        // for a new connection
/// if let doubled = policy.tooManyPings(connectionTimeMs: machine.timeMs) {
///     log("keepalive time doubled to \(doubled) ms")         // new connections use it
/// }
/// ```
package struct KeepalivePolicy: Sendable, Equatable {
    /// The largest keepalive time doubling reaches (2^31 - 1 ms, about 24.8 days, as C-core).
    package static let maxTimeMs: Int64 = Int64(Int32.max)

    /// The configured `keepalive_time_ms` (0: keepalive off).
    package let configuredTimeMs: Int64
    /// The time between PINGs new connections use: the configured time, doubled after
    /// each "too_many_pings" GOAWAY.
    package private(set) var timeMs: Int64
    /// `keepalive_timeout_ms`: how long a PING may go unanswered (with nothing else
    /// read from the peer) before the connection is declared dead.
    package let timeoutMs: Int64
    /// `keepalive_permit_without_calls`: ping connections that have no open stream too.
    package let permitWithoutCalls: Bool
    /// How many "too_many_pings" GOAWAYs the channel received.
    package private(set) var tooManyPingsCount = 0

    /// Non-positive times mean "off"; a non-positive timeout is treated as 1 ms
    /// (``ChannelOptions`` rejects such values before they get here).
    package init(timeMs: Int64, timeoutMs: Int64, permitWithoutCalls: Bool) {
        let time = min(max(0, timeMs), Self.maxTimeMs)
        self.configuredTimeMs = time
        self.timeMs = time
        self.timeoutMs = max(1, timeoutMs)
        self.permitWithoutCalls = permitWithoutCalls
    }

    /// From `keepalive_time_ms`, `keepalive_timeout_ms` and `keepalive_permit_without_calls`.
    package init(options: ChannelOptions) {
        self.init(timeMs: options.keepaliveTimeMs, timeoutMs: options.keepaliveTimeoutMs,
                  permitWithoutCalls: options.keepalivePermitWithoutCalls)
    }

    /// Keepalive is on (`keepalive_time_ms` > 0).
    package var isEnabled: Bool { configuredTimeMs > 0 }

    /// A connection that pinged every `connectionTimeMs` got "too_many_pings": new
    /// connections ping at most half as often. Returns the new time when it grew, nil
    /// when it already was at least twice `connectionTimeMs` (or at the cap).
    package mutating func tooManyPings(connectionTimeMs: Int64) -> Int64? {
        tooManyPingsCount += 1
        let (doubled, overflow) = max(1, connectionTimeMs).multipliedReportingOverflow(by: 2)
        let proposed = overflow ? Self.maxTimeMs : min(doubled, Self.maxTimeMs)
        guard isEnabled, proposed > timeMs else { return nil }
        timeMs = proposed
        return proposed
    }
}
