/// Response DATA: gRPC messages, or a body that is not one.
extension CallStateMachine {
    /// Give back the array of a message the application has taken: the deframer
    /// assembles a later message of a size it can hold in it (see
    /// ``GRPCMessageDeframer/donate(_:)``).
    package mutating func donateReceiveBuffer(_ buffer: [UInt8]) {
        deframer.donate(buffer)
    }

    /// A chunk of the response body arrived; every complete message goes to
    /// `deliver`, in order.
    package mutating func receivedData(_ chunk: UnsafeRawBufferPointer,
                                       deliver: ([UInt8]) -> Void) -> DataAction {
        guard !isFinished, failure == nil else { return .none }
        switch response {
        case .open:
            break
        case .awaitingHeaders, .readingHeaders, .readingInformational:
            recordFailure(.internalError, "malformed response from the server: DATA before the response headers")
            response = .ended
            return .resetStream(HTTP2ErrorCode.protocolError)
        case .readingTrailers, .ended:
            recordFailure(.internalError, "malformed response from the server: DATA after the trailers")
            response = .ended
            return .resetStream(HTTP2ErrorCode.protocolError)
        }
        // Not a gRPC response (an error page from a proxy, say): its body is not
        // length-prefixed messages. The call cannot end OK (see `streamClosed`).
        guard readsMessages else { return .none }
        // Fast path: one whole message in one chunk, nothing buffered before it.
        if deframer.bufferedByteCount == 0, chunk.count >= 5, chunk[0] == 0 {
            let length = Int(chunk[1]) << 24 | Int(chunk[2]) << 16 | Int(chunk[3]) << 8 | Int(chunk[4])
            if length == chunk.count - 5 && length <= maxReceiveMessageSize {
                return accept(Array(UnsafeRawBufferPointer(rebasing: chunk[5...])), deliver)
            }
        }
        deframer.append(chunk)
        do throws(DeframeError) {
            while let message = try deframer.next() {
                let action = accept(message, deliver)
                if action != .none { return action }
            }
        } catch {
            let (status, message) = Self.status(for: error)
            recordFailure(status, message)
            return .resetStream(HTTP2ErrorCode.cancel)
        }
        return .none
    }

    private mutating func accept(_ message: [UInt8], _ deliver: ([UInt8]) -> Void) -> DataAction {
        messagesReceived += 1
        if singleResponse && messagesReceived > 1 {
            recordFailure(.internalError, "server sent more than one response message for a unary call")
            return .resetStream(HTTP2ErrorCode.cancel)
        }
        deliver(message)
        return .none
    }

    /// The gRPC status for a deframing error.
    package static func status(for error: DeframeError) -> (StatusCode, String) {
        switch error {
        case .messageTooLarge(let size, let limit):
            return (.resourceExhausted, "received message larger than max (\(size) vs. \(limit))")
        case .compressedWithoutEncoding:
            return (.internalError, "received a compressed message but no compression was negotiated")
        case .invalidFlag(let flag):
            return (.internalError, "received a message with invalid flags \(flag)")
        }
    }
}
