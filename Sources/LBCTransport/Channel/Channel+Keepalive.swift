import LBCCore

/// Keepalive at the channel level: the settings each new connection gets, the
/// channel-wide doubling of the keepalive time on "too_many_pings" (gRFC A8), and
/// the keepalive parts of the stats snapshot (``KeepaliveCounters``). Loop thread.
extension Channel {
    /// Give a new connection to `endpoint` the current keepalive settings and the
    /// endpoint's counters; nothing when keepalive is off.
    func applyKeepalive(to configuration: inout ConnectionConfiguration, for endpoint: Endpoint) {
        guard keepalivePolicy.isEnabled else { return }
        configuration.keepalive = keepalivePolicy
        if endpoint.keepaliveStats == nil { endpoint.keepaliveStats = KeepaliveStats() }
        configuration.keepaliveStats = endpoint.keepaliveStats
    }

    /// A server found our PINGs too frequent: new connections of every endpoint ping
    /// half as often as that connection did (logged as a warning, as A8 asks).
    package func connectionReceivedTooManyPings(_ connection: HTTP2Connection) {
        guard !isShutDown else { return }
        let time = connection.keepaliveTimeMs ?? 0
        let prefix = "\(targetText): \(connection.address) sent GOAWAY ENHANCE_YOUR_CALM too_many_pings"
        if let doubled = keepalivePolicy.tooManyPings(connectionTimeMs: time) {
            emit(.warning, "\(prefix): keepalive time doubled from \(time) ms to \(doubled) ms for new connections")
        } else if keepalivePolicy.isEnabled {
            emit(.warning, "\(prefix): keepalive time stays \(keepalivePolicy.timeMs) ms (already raised)")
        } else {
            emit(.warning, "\(prefix), although keepalive is off")
        }
    }
}
