/// An endpoint's keepalive counters in a stats snapshot (the per-endpoint "keepalive"
/// object), copied from its ``KeepaliveStats`` on the loop thread.
struct KeepaliveStatsSnapshot {
    var pingsSent = 0
    var pingsAcknowledged = 0
    var lastRoundTripNs: Int64? = nil
    var deadConnections = 0
    var tooManyPings = 0
    var timeMs: Int64 = 0

    /// Copy `s` (all zero when the endpoint has not connected yet). Loop thread.
    init(_ s: KeepaliveStats?) {
        guard let s else { return }
        pingsSent = s.pingsSent
        pingsAcknowledged = s.pingsAcknowledged
        lastRoundTripNs = s.lastRoundTripNs
        deadConnections = s.deadConnections
        tooManyPings = s.tooManyPings
        timeMs = s.timeMs
    }
}
