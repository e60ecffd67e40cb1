/// The channel's connectivity state, aggregated from its endpoints' states by gRPC's
/// rules (grpc/grpc doc/connectivity-semantics-and-api.md, load-balancing.md), without I/O.
///
/// - READY if any endpoint is READY;
/// - else CONNECTING if any endpoint is CONNECTING;
/// - else IDLE if any endpoint is IDLE;
/// - else TRANSIENT_FAILURE (every endpoint is failing);
/// - with no endpoint at all: ``emptyState`` — CONNECTING while the first discovery
///   answer is awaited (dns:, a lookup; also a fixed target before its endpoints
///   join), IDLE on a `manual:` channel before its first push (it does nothing until
///   the application pushes endpoints), TRANSIENT_FAILURE once discovery answered
///   (or failed) with no endpoint: no RPC can be served;
/// - SHUTDOWN after ``shutDown()``, for good.
///
/// Only endpoints in the set count (a removed endpoint that still drains its RPCs
/// does not). Counts per state are kept incrementally: every event is O(1),
/// whatever the number of endpoints, and each returns the channel's change, if any.
///
/// ```swift
/// var c = ChannelConnectivity(emptyState: .connecting)
/// c.endpointAdded(.idle)                            // Change(old: .connecting, new: .idle)
/// c.endpointChanged(from: .idle, to: .connecting)   // Change(old: .idle, new: .connecting)
/// c.endpointChanged(from: .connecting, to: .ready)  // Change(old: .connecting, new: .ready)
/// c.state                                           // .ready
/// ```
package struct ChannelConnectivity: Sendable, Equatable {
    /// The channel-level states; raw values are the C API's `lbc_connectivity_state`.
    package enum State: Int32, Sendable, Equatable, CaseIterable {
        case idle = 0
        case connecting = 1
        case ready = 2
        case transientFailure = 3
        case shutdown = 4

        /// The state of one endpoint, in the channel's terms.
        package init(_ endpoint: ConnectivityState) {
            switch endpoint {
            case .idle: self = .idle
            case .connecting: self = .connecting
            case .ready: self = .ready
            case .transientFailure: self = .transientFailure
            }
        }

        /// "IDLE", "CONNECTING", "READY", "TRANSIENT_FAILURE" or "SHUTDOWN".
        package var name: String {
            switch self {
            case .idle: return "IDLE"
            case .connecting: return "CONNECTING"
            case .ready: return "READY"
            case .transientFailure: return "TRANSIENT_FAILURE"
            case .shutdown: return "SHUTDOWN"
            }
        }
    }

    /// A change of the channel's state.
    package struct Change: Sendable, Equatable {
        package let old: State
        package let new: State
        package init(old: State, new: State) {
            self.old = old
            self.new = new
        }
    }

    /// The channel's current state.
    package private(set) var state: State
    /// The state while the set has no endpoint (see the type's rules).
    package private(set) var emptyState: State
    private var idle = 0
    private var connecting = 0
    private var ready = 0
    private var failing = 0

    /// `emptyState`: what the channel is before its first endpoint joins.
    package init(emptyState: State) {
        self.emptyState = emptyState
        self.state = emptyState
    }

    /// Endpoints in the set.
    package var endpointCount: Int { idle + connecting + ready + failing }

    /// How many endpoints of the set are in `state`.
    package func count(_ state: ConnectivityState) -> Int {
        switch state {
        case .idle: return idle
        case .connecting: return connecting
        case .ready: return ready
        case .transientFailure: return failing
        }
    }

    /// An endpoint joined the set in `state`.
    package mutating func endpointAdded(_ state: ConnectivityState) -> Change? {
        guard self.state != .shutdown else { return nil }
        adjust(state, by: 1)
        return recompute()
    }

    /// An endpoint of the set went from `old` to `new`.
    package mutating func endpointChanged(from old: ConnectivityState, to new: ConnectivityState) -> Change? {
        guard self.state != .shutdown, old != new else { return nil }
        adjust(old, by: -1)
        adjust(new, by: 1)
        return recompute()
    }

    /// An endpoint in `state` left the set.
    package mutating func endpointRemoved(_ state: ConnectivityState) -> Change? {
        guard self.state != .shutdown else { return nil }
        adjust(state, by: -1)
        return recompute()
    }

    /// Discovery answered (addresses, an empty answer, or a push) or failed: from now
    /// on an empty set is TRANSIENT_FAILURE.
    package mutating func discoveryAnswered() -> Change? {
        guard state != .shutdown else { return nil }
        emptyState = .transientFailure
        return recompute()
    }

    /// The channel closed: SHUTDOWN for good (nil when it already was).
    package mutating func shutDown() -> Change? {
        guard state != .shutdown else { return nil }
        let old = state
        state = .shutdown
        return Change(old: old, new: .shutdown)
    }

    private mutating func adjust(_ state: ConnectivityState, by delta: Int) {
        switch state {
        case .idle: idle += delta
        case .connecting: connecting += delta
        case .ready: ready += delta
        case .transientFailure: failing += delta
        }
        precondition(idle >= 0 && connecting >= 0 && ready >= 0 && failing >= 0,
                     "ChannelConnectivity: an endpoint left a state it was not counted in")
    }

    private mutating func recompute() -> Change? {
        let next: State
        if ready > 0 { next = .ready }
        else if connecting > 0 { next = .connecting }
        else if idle > 0 { next = .idle }
        else if failing > 0 { next = .transientFailure }
        else { next = emptyState }
        guard next != state else { return nil }
        let change = Change(old: state, new: next)
        state = next
        return change
    }
}
