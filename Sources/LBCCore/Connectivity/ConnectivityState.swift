/// gRPC connectivity states of one endpoint (grpc/grpc doc/connectivity-semantics-and-api.md).
package enum ConnectivityState: Sendable, Equatable {
    case idle
    case connecting
    case ready
    case transientFailure

    /// The name used in stats and logs, e.g. "TRANSIENT_FAILURE".
    package var name: String {
        switch self {
        case .idle: return "IDLE"
        case .connecting: return "CONNECTING"
        case .ready: return "READY"
        case .transientFailure: return "TRANSIENT_FAILURE"
        }
    }
}
