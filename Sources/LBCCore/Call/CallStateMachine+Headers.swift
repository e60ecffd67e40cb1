/// Response header blocks: informational, response, trailers-only, trailers.
extension CallStateMachine {
    /// A HEADERS frame begins a header block; `endStream`: it carries END_STREAM.
    /// Its category (1xx, response, trailers) is the machine's to decide: HTTP/2
    /// libraries file the final response after a 1xx as "headers" like trailers.
    package mutating func headerBlockStarted(endStream: Bool) {
        guard !isFinished else { return }
        blockEndsStream = endStream
        switch response {
        case .awaitingHeaders:
            response = .readingHeaders
            blockStatus = -1
        case .open:
            response = .readingTrailers
        case .readingHeaders, .readingInformational, .readingTrailers, .ended:
            break  // no block nests in another; nothing follows the end
        }
    }

    /// True while a header block is being read (between its start and its end).
    package var isReadingHeaderBlock: Bool {
        response == .readingHeaders || response == .readingInformational || response == .readingTrailers
    }

    /// One field of a HEADERS frame whose END_STREAM flag is `frameEndsStream`: the
    /// frame's header block starts with its first field (so HTTP/2 need not report
    /// the start of every block separately).
    package mutating func receivedHeaderField(name: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer,
                                              frameEndsStream: Bool) -> FieldAction {
        if !isReadingHeaderBlock { headerBlockStarted(endStream: frameEndsStream) }
        return receivedField(name: name, value: value)
    }

    /// A HEADERS frame whose END_STREAM flag is `endStream` is complete (a block
    /// without any field starts here).
    package mutating func headerFrameEnded(endStream: Bool) -> BlockAction {
        if !isReadingHeaderBlock { headerBlockStarted(endStream: endStream) }
        return headerBlockEnded()
    }

    /// One field of the header block being read.
    package mutating func receivedHeaderField(name: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer) -> FieldAction {
        receivedField(name: name, value: value)
    }

    @inline(__always)
    private mutating func receivedField(name: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer) -> FieldAction {
        guard !isFinished else { return .none }
        // The limit we advertise in SETTINGS_MAX_HEADER_LIST_SIZE, for the whole stream.
        headerListBytes += name.count + value.count + 32
        if headerListBytes > maxHeaderListBytes {
            recordFailure(.resourceExhausted, "response header list larger than \(maxHeaderListBytes) bytes")
            response = .ended
            return .rejectHeaderBlock
        }
        switch response {
        case .readingHeaders:
            receivedResponseField(name: name, value: value)
        case .readingTrailers:
            receivedTrailerField(name: name, value: value)
        case .readingInformational, .awaitingHeaders, .open, .ended:
            break  // 1xx fields, or fields outside a block: nothing to keep
        }
        return .none
    }

    @inline(__always)
    private mutating func receivedResponseField(name: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer) {
        switch ResponseHeaderName(name) {
        case .status:
            let status = Self.parseInt(value) ?? 0
            blockStatus = status
            if status >= 100 && status < 200 { response = .readingInformational }
        case .contentType:
            foreignContentType = ResponseHeaderName.hasPrefix(value, "application/grpc")
                ? nil : String(decoding: value, as: UTF8.self)
        case .grpcStatus, .grpcMessage:
            receivedStatusField(name: name, value: value)
        case .otherPseudo, .grpcEncoding, .grpcAcceptEncoding:
            break
        case .metadata:
            headers.append(key: String(decoding: name, as: UTF8.self), value: Self.metadataValue(name, value))
        }
    }

    @inline(__always)
    private mutating func receivedTrailerField(name: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer) {
        switch ResponseHeaderName(name) {
        case .grpcStatus, .grpcMessage:
            receivedStatusField(name: name, value: value)
        case .status, .otherPseudo, .contentType, .grpcEncoding, .grpcAcceptEncoding:
            break
        case .metadata:
            trailers.append(key: String(decoding: name, as: UTF8.self), value: Self.metadataValue(name, value))
        }
    }

    @inline(__always)
    private mutating func receivedStatusField(name: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer) {
        if name.count == 12 {  // grpc-message
            grpcMessage = PercentEncoding.decode(value)
        } else if let code = Self.parseInt(value) {
            grpcStatus = Int32(clamping: code)
            invalidStatusText = nil
        } else {
            grpcStatus = StatusCode.unknown.rawValue
            invalidStatusText = String(decoding: value, as: UTF8.self)
        }
    }

    /// The header block being read is complete.
    package mutating func headerBlockEnded() -> BlockAction {
        guard !isFinished else { return .none }
        switch response {
        case .readingInformational:
            if blockEndsStream {
                return malformed("an informational (\(blockStatus)) response header block ended the stream")
            }
            response = .awaitingHeaders
            return .none
        case .readingHeaders:
            if blockStatus < 0 {
                return malformed("the response headers have no :status")
            }
            if blockStatus == 0 {
                return malformed("the response headers have a :status that is not a number")
            }
            httpStatus = blockStatus
            if blockEndsStream {
                // Trailers-only: everything it carried is trailing metadata.
                response = .ended
                if foreignContentType == "" { foreignContentType = nil }  // may omit content-type
                trailers = headers
                headers = Metadata()
                return .none
            }
            response = .open
            receivedResponseHeaders = true
            readsMessages = httpStatus == 200 && foreignContentType == nil
            return .publishHeaders
        case .readingTrailers:
            if !blockEndsStream {
                return malformed("a second header block without END_STREAM (trailers must end the stream)")
            }
            response = .ended
            return .none
        case .awaitingHeaders, .open, .ended:
            return .none
        }
    }

    /// Record a malformed response; the stream is to be reset.
    private mutating func malformed(_ what: String) -> BlockAction {
        recordFailure(.internalError, "malformed response from the server: \(what)")
        response = .ended
        return .resetStream(HTTP2ErrorCode.protocolError)
    }

    /// A metadata value as the caller sees it ("-bin" values base64-decoded).
    private static func metadataValue(_ name: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer) -> [UInt8] {
        if ResponseHeaderName.hasSuffix(name, "-bin") {
            return Base64.decode(value) ?? Array(value)
        }
        return Array(value)
    }

    static func parseInt(_ bytes: UnsafeRawBufferPointer) -> Int? {
        guard !bytes.isEmpty, bytes.count <= 9 else { return nil }
        var v = 0
        for b in bytes {
            guard b >= 48 && b <= 57 else { return nil }
            v = v * 10 + Int(b - 48)
        }
        return v
    }
}
