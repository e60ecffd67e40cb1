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
        nghttp2_session_callbacks_set_on_frame_not_send_callback(cbs, onFrameNotSent)
        nghttp2_session_callbacks_set_error_callback2(cbs, onError)
        nghttp2_session_callbacks_set_send_data_callback(cbs, sendData)
        return cbs!
    }()

    /// Session options: windows are returned by hand (`NGHTTP2Window`): unary calls at
    /// once, streaming calls as the caller takes messages.
    nonisolated(unsafe) static let sessionOptions: OpaquePointer = {
        var opt: OpaquePointer?
        nghttp2_option_new(&opt)
        nghttp2_option_set_peer_max_concurrent_streams(opt, 100)
        nghttp2_option_set_no_auto_window_update(opt, 1)
        return opt!
    }()

    @inline(__always)
    private static func connection(_ userData: UnsafeMutableRawPointer?) -> HTTP2Connection {
        Unmanaged<HTTP2Connection>.fromOpaque(userData!).takeUnretainedValue()
    }

    /// The call of an open stream (its stream user data; owned by `HTTP2Connection.streams`).
    @inline(__always)
    private static func call(_ session: OpaquePointer?, _ streamID: Int32) -> Call? {
        guard let p = nghttp2_session_get_stream_user_data(session, streamID) else { return nil }
        return Unmanaged<Call>.fromOpaque(p).takeUnretainedValue()
    }

    /// The call of an open stream without a retain: `HTTP2Connection.streams` owns it
    /// for the whole callback (it is only removed in `onStreamClose`).
    @inline(__always)
    private static func unownedCall(_ session: OpaquePointer?, _ streamID: Int32) -> Unmanaged<Call>? {
        guard let p = nghttp2_session_get_stream_user_data(session, streamID) else { return nil }
        return Unmanaged<Call>.fromOpaque(p)
    }

    static let onHeader: nghttp2_on_header_callback = { session, frame, name, nameLength, value, valueLength, _, _ in
        guard let frame else { return 0 }
        let id = frame.pointee.hd.stream_id
        guard frame.pointee.hd.type == UInt8(NGHTTP2_HEADERS.rawValue), let call = unownedCall(session, id) else { return 0 }
        // The call's machine decides what the block is (1xx, response, trailers):
        // nghttp2's own category files a final response after a 1xx as trailers.
        let endStream = frame.pointee.hd.flags & UInt8(NGHTTP2_FLAG_END_STREAM.rawValue) != 0
        return call._withUnsafeGuaranteedRef { call in
            switch call.machine.receivedHeaderField(name: UnsafeRawBufferPointer(start: name, count: nameLength),
                                                    value: UnsafeRawBufferPointer(start: value, count: valueLength),
                                                    frameEndsStream: endStream) {
            case .none: return 0
            case .rejectHeaderBlock: return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE.rawValue  // nghttp2 resets the stream
            }
        }
    }

    static let onDataChunk: nghttp2_on_data_chunk_recv_callback = { session, _, streamID, data, length, _ in
        guard let call = unownedCall(session, streamID), !call._withUnsafeGuaranteedRef({ $0.finished }) else {
            // Data for a call that has ended (its RST_STREAM is not out yet): nobody will
            // take it, so give the connection window back now or it would shrink for good.
            NGHTTP2Window.consumeConnection(session!, count: length)
            return 0
        }
        let code = call._withUnsafeGuaranteedRef {
            $0.receiveData(UnsafeRawBufferPointer(start: data, count: length), session: session!, streamID: streamID)
        }
        if let code {
            nghttp2_submit_rst_stream(session, UInt8(NGHTTP2_FLAG_NONE.rawValue), streamID, code)
        }
        return 0
    }

    static let onFrame: nghttp2_on_frame_recv_callback = { session, frame, userData in
        guard let frame else { return 0 }
        let conn = connection(userData)
        let type = UInt32(frame.pointee.hd.type)
        let id = frame.pointee.hd.stream_id
        let endStream = frame.pointee.hd.flags & UInt8(NGHTTP2_FLAG_END_STREAM.rawValue) != 0
        if endStream && (type == NGHTTP2_HEADERS.rawValue || type == NGHTTP2_DATA.rawValue) && id > 0
            && nghttp2_session_get_stream_local_close(session, id) == 0 {
            // The server has ended the call while we still have the send side open
            // (an error before it read everything, or a stream the client never
            // half-closed). nghttp2 reports a stream closed only once both sides are,
            // so close ours; RFC 9113 §8.1 lets the server leave this to us.
            nghttp2_submit_rst_stream(session, UInt8(NGHTTP2_FLAG_NONE.rawValue), id, HTTP2ErrorCode.noError)
        }
        switch type {
        case NGHTTP2_HEADERS.rawValue:
            guard let call = unownedCall(session, id) else { break }
            call._withUnsafeGuaranteedRef { call in
                switch call.machine.headerFrameEnded(endStream: endStream) {
                case .none: break
                case .publishHeaders: call.responseHeadersComplete()
                case .resetStream(let code):
                    nghttp2_submit_rst_stream(session, UInt8(NGHTTP2_FLAG_NONE.rawValue), id, code)
                }
            }
        case NGHTTP2_RST_STREAM.rawValue:
            // The server's reset (nghttp2 reports resets of its own only as the close code).
            call(session, id)?.machine.receivedReset(errorCode: frame.pointee.rst_stream.error_code)
        case NGHTTP2_SETTINGS.rawValue:
            if frame.pointee.hd.flags & UInt8(NGHTTP2_FLAG_ACK.rawValue) == 0 { conn.receivedSettings() }
        case NGHTTP2_PING.rawValue:
            if frame.pointee.hd.flags & UInt8(NGHTTP2_FLAG_ACK.rawValue) != 0 { conn.receivedPingAck() }
        case NGHTTP2_GOAWAY.rawValue:
            if isTooManyPings(frame.pointee.goaway) { conn.receivedTooManyPings() }
            conn.receivedGoAway()
        default:
            break
        }
        return 0
    }

    /// gRFC A8: a server that finds our PINGs too frequent sends GOAWAY with
    /// ENHANCE_YOUR_CALM and the debug data "too_many_pings".
    private static func isTooManyPings(_ goaway: nghttp2_goaway) -> Bool {
        guard goaway.error_code == NGHTTP2_ENHANCE_YOUR_CALM.rawValue, let data = goaway.opaque_data else { return false }
        return UnsafeBufferPointer(start: data, count: goaway.opaque_data_len).elementsEqual("too_many_pings".utf8)
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
        if conn.streams.isEmpty { conn.streamsBecameIdle() }
        conn.delegate?.streamClosed(conn, call: call, errorCode: errorCode, failure: nil)
        conn.startQueuedStreams()
        return 0
    }

    /// nghttp2 did not send a frame. For a request's HEADERS the stream closes next
    /// (with REFUSED_STREAM, which would otherwise read as the server's refusal): tell
    /// the call why, so a local refusal is reported as local and not retried.
    static let onFrameNotSent: nghttp2_on_frame_not_send_callback = { session, frame, libError, _ in
        guard let frame, frame.pointee.hd.type == UInt8(NGHTTP2_HEADERS.rawValue),
              frame.pointee.headers.cat == NGHTTP2_HCAT_REQUEST,
              let call = call(session, frame.pointee.hd.stream_id) else { return 0 }
        let reason: CallStateMachine.NotSentReason
        switch libError {
        case NGHTTP2_ERR_FRAME_SIZE_ERROR.rawValue, NGHTTP2_ERR_HEADER_COMP.rawValue:
            var bytes = 0
            if let nva = frame.pointee.headers.nva {
                for i in 0..<frame.pointee.headers.nvlen { bytes += nva[i].namelen + nva[i].valuelen + 32 }
            }
            reason = .headerBlockTooLarge(headerListBytes: bytes, limitBytes: HTTP2Connection.maxSendHeaderBlockSize)
        case NGHTTP2_ERR_START_STREAM_NOT_ALLOWED.rawValue:
            reason = .connectionNotAccepting
        case NGHTTP2_ERR_STREAM_CLOSING.rawValue:
            reason = .cancelled
        default:
            reason = .failed(String(cString: nghttp2_strerror(libError)))
        }
        call.machine.requestNotSent(reason)
        return 0
    }

    /// Asks the call for request body bytes (see `Call.readBody`): small payloads are
    /// copied into nghttp2's frame, large ones sent without a copy
    /// (NGHTTP2_DATA_FLAG_NO_COPY) by `sendData`.
    static let readRequestBody: nghttp2_data_source_read_callback = { _, _, buf, length, flags, source, _ in
        Unmanaged<Call>.fromOpaque(source!.pointee.ptr!)._withUnsafeGuaranteedRef {
            $0.readBody(into: buf!, length: length, flags: flags!)
        }
    }

    /// A NO_COPY DATA frame is due: queue its 9-byte header (a copy) and its payload
    /// (borrowed from the call) on the connection's write queue, in order after the
    /// frames `nghttp2_session_mem_send` returned before. WOULDBLOCK while the queue
    /// holds a full batch: nghttp2 offers the same frame again on the next flush.
    /// TEMPORAL_CALLBACK_FAILURE when the call no longer has the bytes (freed in
    /// between): nghttp2 drops the frame and resets the stream.
    static let sendData: nghttp2_send_data_callback = { _, frame, header, length, source, userData in
        let conn = connection(userData)
        guard conn.writeQueue.byteCount < HTTP2Connection.writeBatchBytes else {
            return NGHTTP2_ERR_WOULDBLOCK.rawValue
        }
        // No padding: this client sets no select_padding callback.
        guard let frame, frame.pointee.data.padlen == 0, let header else {
            return NGHTTP2_ERR_CALLBACK_FAILURE.rawValue
        }
        let taken = Unmanaged<Call>.fromOpaque(source!.pointee.ptr!)._withUnsafeGuaranteedRef {
            $0.takeBody(length, header: UnsafeRawBufferPointer(start: header, count: 9), into: &conn.writeQueue)
        }
        return taken ? 0 : NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE.rawValue
    }
}

/// Flag values a request body source returns.
enum NGHTTP2DataFlags {
    static let eof = NGHTTP2_DATA_FLAG_EOF.rawValue
    static let noCopy = NGHTTP2_DATA_FLAG_NO_COPY.rawValue
    static let deferred = Int(NGHTTP2_ERR_DEFERRED.rawValue)
}

/// Returning receive window by hand (the sessions use no_auto_window_update).
enum NGHTTP2Window {
    /// Connection and stream window.
    @inline(__always)
    static func consume(_ session: OpaquePointer, streamID: Int32, count: Int) {
        nghttp2_session_consume(session, streamID, count)
    }

    @inline(__always)
    static func consumeConnection(_ session: OpaquePointer, count: Int) {
        nghttp2_session_consume_connection(session, count)
    }

    @inline(__always)
    static func consumeStream(_ session: OpaquePointer, streamID: Int32, count: Int) {
        nghttp2_session_consume_stream(session, streamID, count)
    }
}
