/// An endpoint's TLS handshake figures in a stats snapshot (the "tls" object),
/// copied from its ``TLSEndpointSession`` on the loop thread.
struct TLSStatsSnapshot {
    var fullHandshakes: Int
    var resumedHandshakes: Int
    var lastFullNs: Int64
    var lastResumedNs: Int64
    var lastFullReadyNs: Int64
    var lastResumedReadyNs: Int64
    var totalFullNs: Int64
    var totalResumedNs: Int64

    /// Copy `s`'s counters. Loop thread.
    init(_ s: TLSEndpointSession) {
        fullHandshakes = s.fullHandshakes
        resumedHandshakes = s.resumedHandshakes
        lastFullNs = s.lastFullNs
        lastResumedNs = s.lastResumedNs
        lastFullReadyNs = s.lastFullReadyNs
        lastResumedReadyNs = s.lastResumedReadyNs
        totalFullNs = s.totalFullNs
        totalResumedNs = s.totalResumedNs
    }
}
