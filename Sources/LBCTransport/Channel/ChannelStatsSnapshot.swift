import LBCCore

/// Everything the stats JSON shows (lbc_channel_stats_json), as plain values: copied
/// on the loop thread by ``Channel/statsSnapshot()`` — a few loads per endpoint, no
/// formatting, so a snapshot of 1,000 endpoints stalls the loop for tens of
/// microseconds — and rendered by ``json`` on the caller's thread.
struct ChannelStatsSnapshot {
    var target: String
    var policy: String
    var endpoints: [EndpointStatsSnapshot] = []
    /// The TLS figures of each endpoint (nil: no session yet), parallel to `endpoints`;
    /// empty for a plaintext channel.
    var endpointTLS: [TLSHandshakeCounters?] = []
    /// The keepalive counters of each endpoint, parallel to `endpoints`; empty when
    /// keepalive is off.
    var endpointKeepalive: [KeepaliveCounters] = []
    var retiredEndpoints = 0
    var waitingCalls = 0
    var keepalive: KeepalivePolicy
    var subsetSize = 0
    var discoveredEndpoints = 0
    var subsetClientID: String?
    var discoveryKind: String
    var discovery: DiscoveryStats
    /// Age of the last completed resolution when the snapshot was taken.
    var lastResolutionAgeMs: Int64?
    /// The per-method metrics (a copy of the value: its arrays are shared until the
    /// loop next writes to them).
    var methods = MethodMetrics(maxMethods: 0)
}
