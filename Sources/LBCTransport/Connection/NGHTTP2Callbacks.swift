import CNGHTTP2
import LBCCore

/// The nghttp2 callbacks shared by every client session. Each recovers its
/// `HTTP2Connection` from the session's user data.
enum NGHTTP2Callbacks {
    /// One callbacks object for all sessions (nghttp2 copies nothing from it after creation).
    nonisolated(unsafe) static let shared: OpaquePointer = {
        var cbs: OpaquePointer?
        nghttp2_session_callbacks_new(&cbs)
        nghttp2_session_callbacks_set_on_header_callback(cbs, onHeader)
        nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, onDataChunk)
        nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, onFrame)
        nghttp2_session_callbacks_set_on_stream_close_callback(cbs, onStreamClose)
        nghttp2_session_callbacks_set_error_callback2(cbs, onError)
        return cbs!
    }()

    /// Session options: we return WINDOW_UPDATEs automatically (unary calls consume
    /// whole messages), and we never accept pushes.
    nonisolated(unsafe) static let sessionOptions: OpaquePointer = {
        var opt: OpaquePointer?
        nghttp2_option_new(&opt)
        nghttp2_option_set_peer_max_concurrent_streams(opt, 100)
        return opt!
    }()

    @inline(__always)
    private static func connection(_ userData: UnsafeMutableRawPointer?) -> HTTP2Connection {
        Unmanaged<HTTP2Connection>.fromOpaque(userData!).takeUnretainedValue()
    }

    /// The call of an open stream (its stream user data; owned by `HTTP2Connection.streams`).
    @inline(__always)
    private static func call(_ session: OpaquePointer?, _ streamID: Int32) -> UnaryCall? {
        guard let p = nghttp2_session_get_stream_user_data(session, streamID) else { return nil }
        return Unmanaged<UnaryCall>.fromOpaque(p).takeUnretainedValue()
    }

    static let onHeader: nghttp2_on_header_callback = { session, frame, name, nameLength, value, valueLength, _, _ in
        guard let frame else { return 0 }
        let id = frame.pointee.hd.stream_id
        guard frame.pointee.hd.type == UInt8(NGHTTP2_HEADERS.rawValue), let call = call(session, id),
              !call.finished else { return 0 }
        // The limit we advertise in SETTINGS_MAX_HEADER_LIST_SIZE, per stream.
        call.headerListBytes += nameLength + valueLength + 32
        if call.headerListBytes > HTTP2Connection.maxHeaderListSize {
            if call.protocolError == nil {
                call.protocolError = (.resourceExhausted,
                                      "response header list larger than \(HTTP2Connection.maxHeaderListSize) bytes")
            }
            return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE.rawValue  // nghttp2 resets the stream
        }
        let trailer = frame.pointee.headers.cat == NGHTTP2_HCAT_HEADERS
        if !trailer { call.responseHeadersSeen = true }
        call.receiveHeader(name: UnsafeRawBufferPointer(start: name, count: nameLength),
                           value: UnsafeRawBufferPointer(start: value, count: valueLength),
                           trailer: trailer)
        return 0
    }

    static let onDataChunk: nghttp2_on_data_chunk_recv_callback = { session, _, streamID, data, length, _ in
        guard let call = call(session, streamID), !call.finished else { return 0 }
        if call.receiveData(UnsafeRawBufferPointer(start: data, count: length)) != nil {
            nghttp2_submit_rst_stream(session, UInt8(NGHTTP2_FLAG_NONE.rawValue), streamID, HTTP2ErrorCode.cancel)
        }
        return 0
    }

    static let onFrame: nghttp2_on_frame_recv_callback = { _, frame, userData in
        guard let frame else { return 0 }
        let conn = connection(userData)
        switch UInt32(frame.pointee.hd.type) {
        case NGHTTP2_SETTINGS.rawValue:
            if frame.pointee.hd.flags & UInt8(NGHTTP2_FLAG_ACK.rawValue) == 0 { conn.receivedSettings() }
        case NGHTTP2_GOAWAY.rawValue:
            conn.receivedGoAway()
        default:
            break
        }
        return 0
    }

    /// nghttp2 explains a protocol error it is about to act on (e.g. a peer that
    /// does not speak HTTP/2); kept for the connection's failure message.
    static let onError: nghttp2_error_callback2 = { _, _, message, length, userData in
        if let message {
            let text = String(decoding: UnsafeRawBufferPointer(start: message, count: length), as: UTF8.self)
            connection(userData).protocolErrorText = text
        }
        return 0
    }

    static let onStreamClose: nghttp2_on_stream_close_callback = { _, streamID, errorCode, userData in
        let conn = connection(userData)
        guard let call = conn.streams.removeValue(forKey: streamID) else { return 0 }
        conn.delegate?.streamClosed(conn, call: call, errorCode: errorCode, failure: nil)
        return 0
    }

    /// Copies the length-prefixed request into nghttp2's DATA frames.
    static let readRequestBody: nghttp2_data_source_read_callback = { _, _, buf, length, flags, source, _ in
        let call = Unmanaged<UnaryCall>.fromOpaque(source!.pointee.ptr!).takeUnretainedValue()
        let remaining = call.requestFrame.count - call.sendOffset
        let n = min(remaining, length)
        if n > 0 {
            call.requestFrame.withUnsafeBytes { raw in
                buf!.update(from: raw.baseAddress!.assumingMemoryBound(to: UInt8.self) + call.sendOffset, count: n)
            }
            call.sendOffset += n
        }
        if call.sendOffset == call.requestFrame.count {
            flags!.pointee |= NGHTTP2_DATA_FLAG_EOF.rawValue
        }
        return n
    }
}
