import LBCCore

/// One backend of a channel: its state (``EndpointState``: connectivity × admin ×
/// ejection × capacity × health), its connections and counters. Loop thread only.
///
/// Every change that can make the endpoint (un)pickable goes through ``refresh()``,
/// which tells the channel's balancer when ``EndpointState/isPickable`` flips: setting
/// ``machine`` or ``connection`` does so by itself.
package final class Endpoint {
    package let address: EndpointAddress
    /// `address.description`, computed once (it is every response's peer).
    let addressText: CString
    /// The owner; it outlives its endpoints. Not weak: a weak reference would slow
    /// down every retain of the channel.
    unowned(unsafe) let channel: Channel
    /// The endpoint's slot in the balancer; -1 once it left the endpoint set.
    var slot: Int
    /// Connectivity × admin state × ejection × capacity.
    private(set) var state: EndpointState
    /// The current connection answered a call (see `EndpointStateMachine.callCompleted`).
    /// In place, on every call: no copy of the state and no pickability check (the
    /// connectivity state does not change).
    @inline(__always)
    func callCompleted() {
        state.connectivity.callCompleted()
    }

    /// The connectivity component of ``state``; a change re-evaluates pickability.
    var machine: EndpointStateMachine {
        get { state.connectivity }
        set {
            let wasReady = state.connectivity.state == .ready
            state.connectivity = newValue
            if !wasReady && newValue.state == .ready && slot >= 0 {
                if rampsWhenReady { channel.balancer.endpointReady(slot, nowNs: EventLoop.now()) }
                rampsWhenReady = true
            }
            refresh()
        }
    }
    /// The connection new RPCs go to (connecting or ready).
    var connection: HTTP2Connection? {
        didSet { refresh() }
    }
    /// Connections that received GOAWAY and finish their streams.
    var draining: [HTTP2Connection] = []
    var retryTimer: ClosureTimer?
    /// Ends the current ejection.
    var ejectionTimer: ClosureTimer?
    var lastError: String?
    /// TLS session cache and handshake counters (TLS channels only, made on first connect).
    var tlsSession: TLSEndpointSession?
    /// Keepalive counters (channels with keepalive only, made on first connect).
    var keepaliveStats: KeepaliveStats?
    /// What the balancer was last told.
    private(set) var pickable = false
    /// What the channel's connectivity feed was last told (``EndpointState/reportedConnectivity``).
    private(set) var reportedState: ConnectivityState = .idle
    /// Between ``joinConnectivity()`` and ``leaveConnectivity()``: changes are reported.
    private var reportsConnectivity = false

    /// Count in the channel's connectivity from now on, in the current state (called
    /// once the endpoint started connecting, so a join reports no IDLE in passing).
    func joinConnectivity() {
        reportedState = state.reportedConnectivity
        reportsConnectivity = true
        channel.connectivity.endpointAdded(addressText.string, reportedState)
    }

    /// No longer counted (it left the set).
    func leaveConnectivity() {
        guard reportsConnectivity else { return }
        reportsConnectivity = false
        channel.connectivity.endpointRemoved(addressText.string, reportedState)
    }
    /// Slow start applies to the next READY: false for endpoints that joined an empty
    /// set (nothing else could take their share), true after their first READY.
    var rampsWhenReady = true

    /// grpc.health.v1 health checking (option health_check_service); nil when off.
    var health: HealthWatch?

    /// Share weight (weighted_round_robin), from `ADDRESS;weight=N`; 1 by default.
    var weight = 1
    var inFlight = 0
    var callsStarted = 0
    var callsFailed = 0
    var connectFailures = 0
    /// Exponentially weighted moving average of RPC latency (µs), 0 before the first.
    var latencyEWMAMicros = 0.0

    /// Fold one finished RPC's latency into the average (weight 0.1 for the newest).
    func recordLatency(ns: Int64) {
        let micros = Double(ns) / 1000
        latencyEWMAMicros = latencyEWMAMicros == 0 ? micros : latencyEWMAMicros * 0.9 + micros * 0.1
    }

    init(address: EndpointAddress, backoff: ConnectionBackoff, resetBackoffAfterMs: Int64, channel: Channel, slot: Int) {
        self.address = address
        self.addressText = CString(address.description)
        self.channel = channel
        self.slot = slot
        self.state = EndpointState(connectivity: EndpointStateMachine(backoff: backoff,
                                                                      resetBackoffAfterMs: resetBackoffAfterMs))
        if let service = channel.options.healthCheckService {
            state.setHealth(.pending)
            health = HealthWatch(endpoint: self, service: service, backoff: backoff)
        }
    }

    /// Removed from the endpoint set: takes no new RPCs, never reconnects.
    var retired: Bool { state.admin == .draining }

    /// May take a new RPC now (see ``EndpointState/isPickable``).
    var isReady: Bool { state.isPickable }

    /// Change the state by `body`, then re-evaluate pickability.
    func update(_ body: (inout EndpointState) -> Void) {
        body(&state)
        refresh()
    }

    /// Count a finished call for outlier ejection (pickability does not change); true
    /// when the endpoint reached the failure threshold and should be ejected now.
    @inline(__always)
    func countForEjection(_ status: StatusCode, policy: OutlierEjection) -> Bool {
        state.callEnded(status, policy: policy)
    }

    /// Recompute the capacity from the current connection and tell the balancer when
    /// the endpoint became pickable or stopped being so.
    func refresh() {
        let capacity: EndpointState.Capacity
        if let c = connection, c.hasCapacity {
            capacity = c.freeStreamSlots > 0 ? .available : .full
        } else {
            capacity = .none
        }
        if capacity != state.capacity { state.setCapacity(capacity) }
        let reported = state.reportedConnectivity
        if reported != reportedState && reportsConnectivity && !retired {
            channel.connectivity.endpointChanged(addressText.string, from: reportedState, to: reported)
            reportedState = reported
        }
        let now = state.isPickable
        if now != pickable {
            pickable = now
            if slot >= 0 { channel.balancer.connectivityChanged(slot, pickable: now) }
        }
    }

    /// A stream was opened on `connection`: the endpoint is full when that took its last slot.
    @inline(__always)
    func streamStarted(on connection: HTTP2Connection) {
        if connection.freeStreamSlots <= 0 { refresh() }
    }

    /// A stream of `connection` closed: room again if the endpoint was full. Returns
    /// true when that made the endpoint pickable (waiting calls can go).
    @inline(__always)
    func streamClosed(on connection: HTTP2Connection) -> Bool {
        guard state.capacity == .full && connection === self.connection else { return false }
        refresh()
        return pickable
    }

    /// `connection` refused a stream for want of room (REFUSED_STREAM while others
    /// are open): full until one of its streams closes.
    func streamRefused(on connection: HTTP2Connection) {
        guard connection === self.connection else { return }
        state.setCapacity(.full)
        let now = state.isPickable
        if now != pickable {
            pickable = now
            if slot >= 0 { channel.balancer.connectivityChanged(slot, pickable: now) }
        }
    }
}
