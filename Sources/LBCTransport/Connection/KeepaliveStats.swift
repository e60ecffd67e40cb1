/// Keepalive figures of one endpoint, summed over its connections: one value the
/// stats snapshot copies whole (the per-endpoint "keepalive" object).
package struct KeepaliveCounters {
    /// PINGs sent.
    package var pingsSent = 0
    /// PING ACKs received.
    package var pingsAcknowledged = 0
    /// Round-trip time of the last acknowledged PING, nil before the first ACK.
    package var lastRoundTripNs: Int64? = nil
    /// Connections declared dead because a PING went unanswered.
    package var deadConnections = 0
    /// GOAWAY "too_many_pings" answers from this endpoint.
    package var tooManyPings = 0
    /// The keepalive time of the endpoint's newest connection, in milliseconds.
    package var timeMs: Int64 = 0
}

/// The endpoint's ``KeepaliveCounters``, shared by reference with its connections,
/// which count into it. Loop thread only.
package final class KeepaliveStats {
    package var counters = KeepaliveCounters()

    package init() {}
}
