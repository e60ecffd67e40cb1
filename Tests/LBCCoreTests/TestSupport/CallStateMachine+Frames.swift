@testable import LBCCore

/// Frame-level helpers: feed whole header blocks and DATA from strings and bytes,
/// as nghttp2's callbacks would, collecting the actions and delivered messages.
extension CallStateMachine {
    /// A machine whose request is on a stream (HEADERS handed to HTTP/2).
    static func submitted(unary: Bool, maxMessage: Int = 1 << 20, maxHeaderListBytes: Int = 64 << 10) -> CallStateMachine {
        var m = CallStateMachine(maxReceiveMessageSize: maxMessage, singleResponse: unary,
                                 maxHeaderListBytes: maxHeaderListBytes)
        m.dispatched(queued: false)
        return m
    }

    /// One HEADERS frame: begin, each field, end. Returns the block's action, or
    /// `.resetStream(internalError)` when a field rejected the block (nghttp2 then
    /// resets the stream with INTERNAL_ERROR and never reports the block's end).
    @discardableResult
    mutating func headers(_ fields: [(String, String)], endStream: Bool) -> BlockAction {
        headerBlockStarted(endStream: endStream)
        for (name, value) in fields {
            let action = Array(name.utf8).withUnsafeBytes { n in
                Array(value.utf8).withUnsafeBytes { v in receivedHeaderField(name: n, value: v) }
            }
            if action == .rejectHeaderBlock { return .resetStream(HTTP2ErrorCode.internalError) }
        }
        return headerBlockEnded()
    }

    /// One HEADERS frame as nghttp2 reports it: its fields (each knowing the frame's
    /// END_STREAM flag), then the frame's end — no separate start of the block.
    @discardableResult
    mutating func headerFrame(_ fields: [(String, String)], endStream: Bool) -> BlockAction {
        for (name, value) in fields {
            let action = Array(name.utf8).withUnsafeBytes { n in
                Array(value.utf8).withUnsafeBytes { v in receivedHeaderField(name: n, value: v, frameEndsStream: endStream) }
            }
            if action == .rejectHeaderBlock { return .resetStream(HTTP2ErrorCode.internalError) }
        }
        return headerFrameEnded(endStream: endStream)
    }

    /// One DATA frame; the delivered messages are appended to `messages`.
    @discardableResult
    mutating func data(_ bytes: [UInt8], into messages: inout [[UInt8]]) -> DataAction {
        bytes.withUnsafeBytes { raw in receivedData(raw) { messages.append($0) } }
    }
}

/// A gRPC length-prefixed message.
func grpcFrame(_ payload: [UInt8], compressed: Bool = false, announcedLength: Int? = nil) -> [UInt8] {
    let n = announcedLength ?? payload.count
    return [compressed ? 1 : 0, UInt8(n >> 24 & 0xff), UInt8(n >> 16 & 0xff), UInt8(n >> 8 & 0xff), UInt8(n & 0xff)] + payload
}

let okHeaders = [(":status", "200"), ("content-type", "application/grpc")]
let okTrailers = [("grpc-status", "0")]
