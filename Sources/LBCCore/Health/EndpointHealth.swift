/// The health dimension of an endpoint (``EndpointState/health``): what grpc.health.v1
/// health checking (option `health_check_service`) last learnt of it.
///
/// Only ``notChecked``, ``serving`` and ``unimplemented`` let the endpoint take calls.
/// While ``pending`` the endpoint counts as connecting (gRFC A17: CONNECTING until the
/// first answer): calls wait for it rather than fail fast. ``notServing`` and
/// ``failed`` count as failing (A17 / C-core: TRANSIENT_FAILURE), so calls without
/// wait_for_ready fail fast with UNAVAILABLE when no other endpoint can take them.
package enum EndpointHealth: UInt8, Sendable, Equatable {
    /// Health checking is off.
    case notChecked
    /// No answer yet on the current connection (its watch stream is opening).
    case pending
    /// The server reported SERVING.
    case serving
    /// The server reported NOT_SERVING, SERVICE_UNKNOWN, UNKNOWN or a value this
    /// client does not know.
    case notServing
    /// The watch stream failed; it is re-opened after a backoff.
    case failed
    /// The server has no health service (the watch ended UNIMPLEMENTED): treated as
    /// healthy, as gRFC A17 asks.
    case unimplemented

    /// The endpoint may take calls as far as health goes.
    @inline(__always)
    package var allowsCalls: Bool { self == .serving || self == .unimplemented || self == .notChecked }

    /// Calls should fail fast rather than wait for this endpoint.
    package var isFailing: Bool { self == .notServing || self == .failed }

    /// The name in stats and logs.
    package var name: String {
        switch self {
        case .notChecked: return "NOT_CHECKED"
        case .pending: return "PENDING"
        case .serving: return "SERVING"
        case .notServing: return "NOT_SERVING"
        case .failed: return "FAILED"
        case .unimplemented: return "UNIMPLEMENTED"
        }
    }

    /// The health a HealthCheckResponse status value means (1 SERVING; 0 UNKNOWN,
    /// 2 NOT_SERVING, 3 SERVICE_UNKNOWN and any other value: not serving).
    package init(servingStatus: Int32) {
        self = servingStatus == 1 ? .serving : .notServing
    }

    /// The name of a HealthCheckResponse status value, for logs.
    package static func servingStatusName(_ value: Int32) -> String {
        switch value {
        case 0: return "UNKNOWN"
        case 1: return "SERVING"
        case 2: return "NOT_SERVING"
        case 3: return "SERVICE_UNKNOWN"
        default: return "status \(value)"
        }
    }
}
