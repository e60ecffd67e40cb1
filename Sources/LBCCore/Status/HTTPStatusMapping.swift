/// Status of an RPC whose response carried no `grpc-status`, from its HTTP status
/// (grpc/grpc doc/http-grpc-status-mapping.md).
///
/// ```swift
/// HTTPStatusMapping.statusCode(forHTTPStatus: 503)   // .unavailable
/// ```
package enum HTTPStatusMapping {
    /// 400 → INTERNAL, 401 → UNAUTHENTICATED, 403 → PERMISSION_DENIED,
    /// 404 → UNIMPLEMENTED, 429, 502, 503, 504 → UNAVAILABLE, anything else → UNKNOWN.
    package static func statusCode(forHTTPStatus status: Int) -> StatusCode {
        switch status {
        case 400: return .internalError
        case 401: return .unauthenticated
        case 403: return .permissionDenied
        case 404: return .unimplemented
        case 429, 502, 503, 504: return .unavailable
        default: return .unknown
        }
    }
}
