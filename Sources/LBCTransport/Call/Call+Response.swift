import LBCCore

/// HTTP/2 error codes used here (RFC 9113 §7).
package enum HTTP2ErrorCode {
    package static let noError: UInt32 = 0
    package static let protocolError: UInt32 = 1
    package static let internalError: UInt32 = 2
    package static let refusedStream: UInt32 = 7
    package static let cancel: UInt32 = 8
    package static let enhanceYourCalm: UInt32 = 11
    package static let inadequateSecurity: UInt32 = 12
}

extension Call {
    /// A response header (`trailer == false`) or trailer field arrived.
    func receiveHeader(name: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer, trailer: Bool) {
        // Pseudo-headers and reserved names are consumed here, never exposed as metadata.
        switch ResponseHeaderName(name) {
        case .status:
            if !trailer { httpStatus = Self.parseInt(value) ?? 0 }
            return
        case .contentType:
            if !trailer && !ResponseHeaderName.hasPrefix(value, "application/grpc") {
                nonGRPCContentType = String(decoding: value, as: UTF8.self)
            }
            return
        case .otherPseudo, .grpcEncoding, .grpcAcceptEncoding:
            return
        case .grpcStatus:
            if !trailer { trailersOnly = true }
            if let code = Self.parseInt(value) {
                grpcStatus = Int32(clamping: code)
            } else {
                grpcStatus = StatusCode.unknown.rawValue
                invalidStatusText = String(decoding: value, as: UTF8.self)
            }
            return
        case .grpcMessage:
            grpcMessage = PercentEncoding.decode(value)
            return
        case .metadata:
            break
        }
        let key = String(decoding: name, as: UTF8.self)
        let bytes: [UInt8]
        if MetadataValidation.isBinaryKey(key) {
            bytes = Base64.decode(value) ?? Array(value)
        } else {
            bytes = Array(value)
        }
        if trailer { trailers.append(key: key, value: bytes) } else { headers.append(key: key, value: bytes) }
    }

    /// The final status once the stream closed with `errorCode`.
    func outcome(streamErrorCode errorCode: UInt32) -> (StatusCode, String) {
        if let err = protocolError { return err }
        if let code = grpcStatus {
            let known = StatusCode(rawValue: code)
            let status = known ?? .unknown
            if trailersOnly && trailers.isEmpty {
                // Trailers-only response: everything it carried is trailing metadata.
                trailers = headers
                headers = Metadata()
            }
            if status == .ok {
                if deframer.hasPartialMessage {
                    return (.internalError, "stream ended in the middle of a message")
                }
                if let violation = okStatusViolation() { return violation }
            }
            if let message = grpcMessage, !message.isEmpty { return (status, message) }
            if let text = invalidStatusText {
                return (status, "the server sent an invalid grpc-status \"\(text)\"")
            }
            if known == nil { return (status, "the server sent grpc-status \(code), which is not a gRPC status code") }
            return (status, "")
        }
        if errorCode != HTTP2ErrorCode.noError {
            switch errorCode {
            case HTTP2ErrorCode.cancel: return (.cancelled, "stream cancelled by the server (RST_STREAM CANCEL)")
            case HTTP2ErrorCode.refusedStream: return (.unavailable, "stream refused by the server (REFUSED_STREAM)")
            case HTTP2ErrorCode.enhanceYourCalm: return (.resourceExhausted, "server sent ENHANCE_YOUR_CALM")
            case HTTP2ErrorCode.inadequateSecurity: return (.permissionDenied, "server sent INADEQUATE_SECURITY")
            default: return (.internalError, "stream reset by the server with HTTP/2 error code \(errorCode)")
            }
        }
        if httpStatus != 0 && httpStatus != 200 {
            return (HTTPStatusMapping.statusCode(forHTTPStatus: httpStatus),
                    "server answered HTTP status \(httpStatus) without a gRPC status")
        }
        if let type = nonGRPCContentType {
            return (.unknown, "server answered with content-type \"\(type)\", not a gRPC response")
        }
        return (.internalError, "server closed the stream without sending a gRPC status")
    }

    private static func parseInt(_ bytes: UnsafeRawBufferPointer) -> Int? {
        guard !bytes.isEmpty, bytes.count <= 9 else { return nil }
        var v = 0
        for b in bytes {
            guard b >= 48 && b <= 57 else { return nil }
            v = v * 10 + Int(b - 48)
        }
        return v
    }
}
