import CNGHTTP2

extension HTTP2Connection {
    /// Streams this connection may still open without exceeding the server's
    /// SETTINGS_MAX_CONCURRENT_STREAMS (0 unless READY; may be negative when the server
    /// lowered its limit below the streams open).
    var freeStreamSlots: Int {
        guard state == .ready, let s = session else { return 0 }
        let limit = Int(nghttp2_session_get_remote_settings(s, NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS))
        return limit - streams.count
    }
}
