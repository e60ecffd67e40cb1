/// How a channel picks the endpoint of each RPC among READY endpoints. The raw values
/// are the C API's `lbc_lb_policy`.
package enum LBPolicy: Int32, Sendable, CaseIterable {
    /// Power of two random choices; fewer outstanding RPCs wins (the default).
    case leastRequest = 0
    /// Each READY endpoint in turn.
    case roundRobin = 1
    /// The first READY endpoint in target order.
    case pickFirst = 2

    /// The option value: "least_request", "round_robin" or "pick_first".
    package var name: String {
        switch self {
        case .leastRequest: return "least_request"
        case .roundRobin: return "round_robin"
        case .pickFirst: return "pick_first"
        }
    }

    /// The policy named `name` (exact, lowercase), nil for anything else.
    package init?(name: String) {
        switch name {
        case "least_request": self = .leastRequest
        case "round_robin": self = .roundRobin
        case "pick_first": self = .pickFirst
        default: return nil
        }
    }
}
