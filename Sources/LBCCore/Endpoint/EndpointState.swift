/// Everything that decides whether an endpoint takes new calls, in one I/O-free value:
/// connectivity (``EndpointStateMachine``) × admin state (active or draining) ×
/// ejection (outlier detection) × capacity (a usable connection with free stream
/// slots) × health (grpc.health.v1 checking, ``EndpointHealth``). The balancer, the
/// stats snapshot and the log all read it.
///
/// The owner mutates it on events and tells the balancer when ``isPickable`` flips.
///
/// ```swift
/// var state = EndpointState(connectivity: EndpointStateMachine(backoff: options.backoff))
/// _ = state.connectivity.start()
/// state.connectivity.connected(nowMs: now)
/// state.setCapacity(.available)
/// state.isPickable     // true
/// state.name           // "READY"
/// ```
package struct EndpointState: Sendable {
    /// Whether the endpoint belongs to the set.
    package enum Admin: Sendable, Equatable {
        /// In the endpoint set.
        case active
        /// Removed from the set: takes no new calls; its connections finish their calls.
        case draining
    }

    /// Room for new streams on the endpoint's current connection.
    package enum Capacity: Sendable, Equatable {
        /// No connection that accepts streams.
        case none
        /// A ready connection with at least one free stream slot.
        case available
        /// A ready connection whose server's MAX_CONCURRENT_STREAMS are all in use, or
        /// that refused a stream for want of room, until one of its streams closes.
        case full
    }

    /// The connection life cycle (reconnects and backoff).
    package var connectivity: EndpointStateMachine
    package private(set) var admin: Admin = .active
    package private(set) var capacity: Capacity = .none
    /// What health checking last learnt (``EndpointHealth/notChecked`` when it is off).
    package private(set) var health: EndpointHealth = .notChecked
    /// `health.allowsCalls`, kept beside it so that ``isPickable`` stays a few loads.
    private var healthAllowsCalls = true
    /// Calls in a row that failed with a status outlier ejection counts.
    package private(set) var consecutiveFailures = 0
    /// While ejected: when the ejection ends (monotonic ns).
    package private(set) var ejectedUntilNs: Int64?
    /// How many times the endpoint was ejected.
    package private(set) var ejections = 0
    /// The ejection multiplier: the next ejection lasts base × this (gRFC A50). Back to
    /// 0 once the endpoint has served `maxEjectionMs` without being ejected again.
    package private(set) var ejectionLevel = 0
    /// When the last ejection ended.
    private var returnedAtNs: Int64?
    /// Calls and counted failures in the current failure-rate interval.
    package private(set) var intervalCalls = 0
    package private(set) var intervalFailures = 0

    package init(connectivity: EndpointStateMachine) {
        self.connectivity = connectivity
    }

    /// May take a new call now.
    @inline(__always)
    package var isPickable: Bool {
        capacity == .available && admin == .active && ejectedUntilNs == nil && connectivity.state == .ready
            && healthAllowsCalls
    }

    /// Health checking found the endpoint unhealthy or its watch stream failed:
    /// calls do not wait for it (see ``EndpointHealth/isFailing``).
    package var isHealthFailing: Bool { health.isFailing }

    /// Health checking learnt something new.
    package mutating func setHealth(_ health: EndpointHealth) {
        self.health = health
        healthAllowsCalls = health.allowsCalls
    }

    /// Ejected by outlier detection.
    package var isEjected: Bool { ejectedUntilNs != nil }

    /// The connectivity name for stats and logs: READY (a connection takes streams,
    /// whether or not its slots are all in use), CONNECTING, IDLE or TRANSIENT_FAILURE.
    package var name: String {
        if connectivity.state == .ready { return capacity == .none ? "CONNECTING" : "READY" }
        return connectivity.state.name
    }

    /// The endpoint left the set.
    package mutating func drain() { admin = .draining }

    /// The current connection's room for streams changed.
    package mutating func setCapacity(_ capacity: Capacity) { self.capacity = capacity }

    /// A call put on this endpoint ended: a counted status extends the run of
    /// failures, OK ends it, other statuses leave it. Returns true when the endpoint should now be
    /// ejected (the failure threshold is reached and it is not ejected already); the
    /// owner checks the ejected share and calls ``eject(nowNs:policy:)``.
    /// Calls are also counted for the failure rate (``intervalEnded(policy:)``).
    @inline(__always)
    package mutating func callEnded(_ status: StatusCode, policy: OutlierEjection) -> Bool {
        let failed = policy.counts(status)
        if policy.failurePercentage > 0 {
            intervalCalls += 1
            if failed { intervalFailures += 1 }
        }
        if failed {
            consecutiveFailures += 1
            return policy.consecutiveFailures > 0 && consecutiveFailures >= policy.consecutiveFailures
                && ejectedUntilNs == nil
        }
        if status == .ok && consecutiveFailures != 0 { consecutiveFailures = 0 }
        return false
    }

    /// A failure-rate interval ended: true when the endpoint's rate in it ejects it
    /// (and it is not ejected already). The counts start over.
    package mutating func intervalEnded(policy: OutlierEjection) -> Bool {
        let ejects = policy.failureRateEjects(calls: intervalCalls, failures: intervalFailures) && ejectedUntilNs == nil
        intervalCalls = 0
        intervalFailures = 0
        return ejects
    }

    /// Take the endpoint out for its next ejection time (base × the ejection level,
    /// which grows with each ejection and starts over after a healthy `maxEjectionMs`);
    /// returns when it ends.
    package mutating func eject(nowNs: Int64, policy: OutlierEjection) -> Int64 {
        if let returned = returnedAtNs, nowNs &- returned > max(policy.baseEjectionMs, policy.maxEjectionMs) &* 1_000_000 {
            ejectionLevel = 0
        }
        ejections += 1
        ejectionLevel += 1
        let until = nowNs &+ policy.ejectionMs(count: ejectionLevel) &* 1_000_000
        ejectedUntilNs = until
        consecutiveFailures = 0
        return until
    }

    /// The ejection time is over: the endpoint takes calls again.
    package mutating func unejected(nowNs: Int64) {
        ejectedUntilNs = nil
        returnedAtNs = nowNs
    }
}
