/// gRPC status codes 0...16 (grpc/grpc doc/statuscodes.md); the outcome of an RPC.
///
/// ```swift
/// StatusCode(rawValue: 14)?.name   // "UNAVAILABLE"
/// ```
package enum StatusCode: Int32, Sendable, CaseIterable {
    case ok = 0
    case cancelled = 1
    case unknown = 2
    case invalidArgument = 3
    case deadlineExceeded = 4
    case notFound = 5
    case alreadyExists = 6
    case permissionDenied = 7
    case resourceExhausted = 8
    case failedPrecondition = 9
    case aborted = 10
    case outOfRange = 11
    case unimplemented = 12
    case internalError = 13
    case unavailable = 14
    case dataLoss = 15
    case unauthenticated = 16

    /// The canonical upper-case name: "OK", "CANCELLED", ..., "INTERNAL", "UNAUTHENTICATED".
    package var name: String {
        switch self {
        case .ok: return "OK"
        case .cancelled: return "CANCELLED"
        case .unknown: return "UNKNOWN"
        case .invalidArgument: return "INVALID_ARGUMENT"
        case .deadlineExceeded: return "DEADLINE_EXCEEDED"
        case .notFound: return "NOT_FOUND"
        case .alreadyExists: return "ALREADY_EXISTS"
        case .permissionDenied: return "PERMISSION_DENIED"
        case .resourceExhausted: return "RESOURCE_EXHAUSTED"
        case .failedPrecondition: return "FAILED_PRECONDITION"
        case .aborted: return "ABORTED"
        case .outOfRange: return "OUT_OF_RANGE"
        case .unimplemented: return "UNIMPLEMENTED"
        case .internalError: return "INTERNAL"
        case .unavailable: return "UNAVAILABLE"
        case .dataLoss: return "DATA_LOSS"
        case .unauthenticated: return "UNAUTHENTICATED"
        }
    }

    /// Parses a `grpc-status` header value: 1 to 3 ASCII digits. A well-formed number
    /// outside 0...16 maps to `.unknown` (as gRPC implementations do); malformed text
    /// gives nil.
    package init?(grpcStatusHeader value: UnsafeRawBufferPointer) {
        guard !value.isEmpty, value.count <= 3 else { return nil }
        var number: Int32 = 0
        for byte in value {
            guard ASCII.isDigit(byte) else { return nil }
            number = number * 10 + Int32(byte &- UInt8(ascii: "0"))
        }
        self = StatusCode(rawValue: number) ?? .unknown
    }
}
