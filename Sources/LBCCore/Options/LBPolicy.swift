/// How a channel picks the endpoint of each RPC among READY endpoints. The raw values
/// are the C API's `lbc_lb_policy`; each has a ``LoadBalancer`` (see ``LoadBalancers``).
package enum LBPolicy: Int32, Sendable, CaseIterable {
    /// Power of two random choices; fewer outstanding RPCs wins (the default).
    case leastRequest = 0
    /// Each READY endpoint in turn.
    case roundRobin = 1
    /// The first READY endpoint in target order.
    case pickFirst = 2
    /// Power of two random choices on latency average × (outstanding + 1).
    case peakEWMA = 3
    /// Each READY endpoint in turn, in proportion to its weight.
    case weightedRoundRobin = 4

    /// The option value: "least_request", "round_robin", "pick_first", "peak_ewma" or
    /// "weighted_round_robin".
    package var name: String {
        switch self {
        case .leastRequest: return "least_request"
        case .roundRobin: return "round_robin"
        case .pickFirst: return "pick_first"
        case .peakEWMA: return "peak_ewma"
        case .weightedRoundRobin: return "weighted_round_robin"
        }
    }

    /// The policy named `name` (exact, lowercase), nil for anything else.
    package init?(name: String) {
        guard let policy = LBPolicy.allCases.first(where: { $0.name == name }) else { return nil }
        self = policy
    }
}
