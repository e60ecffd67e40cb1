import LBCCore

/// One endpoint's figures in a stats snapshot: plain values copied on the loop thread
/// (cheap: no formatting there), rendered as JSON on the caller's thread
/// (``ChannelStatsSnapshot/json``).
struct EndpointStatsSnapshot {
    var address: EndpointAddress
    /// ``EndpointState/name``: READY, CONNECTING, IDLE or TRANSIENT_FAILURE.
    var stateName: String
    var health: EndpointHealth
    var pickable: Bool
    var ejected: Bool
    var ejections: Int
    var consecutiveFailures: Int
    var inFlight = 0
    var callsStarted = 0
    var callsFailed = 0
    var connectFailures = 0
    var latencyEWMAMicros = 0.0
    /// The balancer's cost of the endpoint (0 once it left the set).
    var cost = 0.0
    var weight = 1
    var freeStreams = 0
    var drainingConnections = 0
    var lastError: String?

    /// Copy `e`'s figures. Loop thread.
    /// (Its TLS and keepalive figures go to arrays of their own, filled only when those
    /// are on: a smaller copy for the common case.)
    init(_ e: Endpoint, cost: Double) {
        address = e.address
        let state = e.state
        stateName = state.name
        health = state.health
        pickable = state.isPickable
        ejected = state.isEjected
        ejections = state.ejections
        consecutiveFailures = state.consecutiveFailures
        inFlight = e.inFlight
        callsStarted = e.callsStarted
        callsFailed = e.callsFailed
        connectFailures = e.connectFailures
        latencyEWMAMicros = e.latencyEWMAMicros
        self.cost = cost
        weight = e.weight
        freeStreams = max(0, e.connection?.freeStreamSlots ?? 0)
        drainingConnections = e.draining.count
        lastError = e.lastError
    }
}
