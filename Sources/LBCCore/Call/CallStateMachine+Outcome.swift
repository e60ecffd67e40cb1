/// Resets and the end of the stream: the call's status.
extension CallStateMachine {
    /// The server sent RST_STREAM with `errorCode`.
    package mutating func receivedReset(errorCode: UInt32) {
        if !isFinished && remoteResetCode == nil { remoteResetCode = errorCode }
    }

    /// The stream closed (HTTP/2's last word on it) with `errorCode`: RST_STREAM's
    /// code, one the client's own session reset it with, REFUSED_STREAM for a
    /// stream a GOAWAY did not cover or HTTP/2 did not send, or NO_ERROR.
    /// `atStreamLimit`: the server refused the stream while others were open on the
    /// connection (its MAX_CONCURRENT_STREAMS): such a refusal is retried whenever it
    /// happens (the channel waits for a free stream), not only once.
    /// `requestRetained`: the call still holds every request byte it sent (a
    /// streaming call within its retry buffer), so it may be resent although
    /// `canResendRequest` is false.
    package mutating func streamClosed(errorCode: UInt32, atStreamLimit: Bool = false,
                                       requestRetained: Bool = false) -> CloseAction {
        guard !isFinished else { return .finish(.cancelled, "the call has already ended") }
        if failure == nil && request != .submitted {
            // Nothing reached the server (still queued, or HTTP/2 declined to send
            // it because the connection was going away): send it elsewhere.
            return .retryTransparently
        }
        if let failure { return .finish(failure.0, failure.1) }
        let refusedByServer = errorCode == HTTP2ErrorCode.refusedStream
            && (remoteResetCode == nil || remoteResetCode == HTTP2ErrorCode.refusedStream)
        if refusedByServer && !sawResponseHeaders && (canResendRequest || requestRetained) && (atStreamLimit || serverRefusalRetries == 0) {
            if !atStreamLimit { serverRefusalRetries += 1 }
            return .retryTransparently
        }
        // The grpc-status counts when it came in the block that ended the stream, or
        // nothing reset the stream after it.
        if let code = grpcStatus, response == .ended || (errorCode == HTTP2ErrorCode.noError && remoteResetCode == nil) {
            let (status, message) = statusFromServer(code)
            return .finish(status, message)
        }
        if let remote = remoteResetCode, remote != HTTP2ErrorCode.noError {
            let (status, message) = Self.statusForServerReset(remote)
            return .finish(status, message)
        }
        if errorCode != HTTP2ErrorCode.noError {
            if errorCode == HTTP2ErrorCode.refusedStream {
                return .finish(.unavailable, "stream refused by the server (a GOAWAY did not cover it)")
            }
            let (status, message) = localReset(errorCode)
            return .finish(status, message)
        }
        if httpStatus != 0 && httpStatus != 200 {
            return .finish(HTTPStatusMapping.statusCode(forHTTPStatus: httpStatus),
                           "server answered HTTP status \(httpStatus) without a gRPC status")
        }
        if httpStatus != 0, let type = foreignContentType {
            return .finish(.unknown, Self.foreignContentTypeMessage(type))
        }
        return .finish(.internalError, "server closed the stream without sending a gRPC status")
    }

    /// The connection under the call went away (lost, closed, the channel closing):
    /// `status` and `message` say why. A call whose request never left the client is
    /// sent elsewhere; any other ends with that status (or the failure it already had).
    package mutating func connectionClosed(status: StatusCode, message: String) -> CloseAction {
        guard !isFinished else { return .finish(.cancelled, "the call has already ended") }
        if failure == nil && request != .submitted { return .retryTransparently }
        if let failure { return .finish(failure.0, failure.1) }
        return .finish(status, message)
    }

    /// The status a grpc-status `code` from the server gives, checked against what
    /// the response carried.
    private func statusFromServer(_ code: Int32) -> (StatusCode, String) {
        let known = StatusCode(rawValue: code)
        let status = known ?? .unknown
        if status == .ok {
            if httpStatus != 200 {
                return (HTTPStatusMapping.statusCode(forHTTPStatus: httpStatus),
                        "server answered HTTP status \(httpStatus), not a gRPC response (its grpc-status 0 is ignored)")
            }
            if let type = foreignContentType {
                return (.unknown, Self.foreignContentTypeMessage(type) + " (its grpc-status 0 is ignored)")
            }
            if deframer.hasPartialMessage {
                return (.internalError, "stream ended in the middle of a message")
            }
            if singleResponse && messagesReceived == 0 {
                return (.internalError, "server sent no response message for a unary call")
            }
        }
        if let message = grpcMessage, !message.isEmpty { return (status, message) }
        if let text = invalidStatusText {
            return (status, "the server sent an invalid grpc-status \"\(text)\"")
        }
        if known == nil { return (status, "the server sent grpc-status \(code), which is not a gRPC status code") }
        return (status, "")
    }

    private static func foreignContentTypeMessage(_ type: String) -> String {
        type.isEmpty ? "server answered without a content-type, not a gRPC response"
            : "server answered with content-type \"\(type)\", not a gRPC response"
    }

    /// The status for an RST_STREAM the server sent.
    package static func statusForServerReset(_ code: UInt32) -> (StatusCode, String) {
        switch code {
        case HTTP2ErrorCode.cancel: return (.cancelled, "stream cancelled by the server (RST_STREAM CANCEL)")
        case HTTP2ErrorCode.refusedStream: return (.unavailable, "stream refused by the server (REFUSED_STREAM)")
        case HTTP2ErrorCode.enhanceYourCalm: return (.resourceExhausted, "server sent ENHANCE_YOUR_CALM")
        case HTTP2ErrorCode.inadequateSecurity: return (.permissionDenied, "server sent INADEQUATE_SECURITY")
        default:
            return (.internalError, "stream reset by the server with HTTP/2 error code \(code) (\(HTTP2ErrorCode.name(code)))")
        }
    }

    /// The status for a reset the client's own HTTP/2 session made: the server broke
    /// a rule the session enforces (flow control, a malformed header block, …).
    private func localReset(_ code: UInt32) -> (StatusCode, String) {
        let why = "the client reset the stream with \(HTTP2ErrorCode.name(code))"
        switch response {
        case .readingHeaders where blockStatus < 0:
            return (.internalError, "malformed response from the server: its response headers have no valid :status (\(why))")
        case .readingHeaders, .readingInformational, .readingTrailers:
            return (.internalError, "malformed response header block from the server (\(why))")
        case .awaitingHeaders, .open, .ended:
            if code == HTTP2ErrorCode.flowControlError {
                return (.internalError, "the server sent more data than the flow-control window allows (\(why))")
            }
            return (.internalError, "the server broke the HTTP/2 protocol (\(why))")
        }
    }
}
