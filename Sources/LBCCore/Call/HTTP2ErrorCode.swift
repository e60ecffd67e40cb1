/// HTTP/2 error codes (RFC 9113 §7), as RST_STREAM and GOAWAY carry them.
package enum HTTP2ErrorCode {
    package static let noError: UInt32 = 0
    package static let protocolError: UInt32 = 1
    package static let internalError: UInt32 = 2
    package static let flowControlError: UInt32 = 3
    package static let streamClosed: UInt32 = 5
    package static let frameSizeError: UInt32 = 6
    package static let refusedStream: UInt32 = 7
    package static let cancel: UInt32 = 8
    package static let compressionError: UInt32 = 9
    package static let enhanceYourCalm: UInt32 = 11
    package static let inadequateSecurity: UInt32 = 12

    /// The code's RFC name ("FLOW_CONTROL_ERROR"), or its number for unknown codes.
    package static func name(_ code: UInt32) -> String {
        switch code {
        case 0: return "NO_ERROR"
        case 1: return "PROTOCOL_ERROR"
        case 2: return "INTERNAL_ERROR"
        case 3: return "FLOW_CONTROL_ERROR"
        case 4: return "SETTINGS_TIMEOUT"
        case 5: return "STREAM_CLOSED"
        case 6: return "FRAME_SIZE_ERROR"
        case 7: return "REFUSED_STREAM"
        case 8: return "CANCEL"
        case 9: return "COMPRESSION_ERROR"
        case 10: return "CONNECT_ERROR"
        case 11: return "ENHANCE_YOUR_CALM"
        case 12: return "INADEQUATE_SECURITY"
        case 13: return "HTTP_1_1_REQUIRED"
        default: return "error code \(code)"
        }
    }
}
