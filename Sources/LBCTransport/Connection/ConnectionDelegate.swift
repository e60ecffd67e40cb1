import LBCCore

/// What a connection reports to its owner (the channel), always on the loop thread.
package protocol ConnectionDelegate: AnyObject {
    /// The server's SETTINGS arrived: the connection can carry RPCs.
    func connectionReady(_ connection: HTTP2Connection)
    /// A ready connection got new SETTINGS from the server (its stream limit may have changed).
    func connectionSettingsChanged(_ connection: HTTP2Connection)
    /// The connection failed before it became ready.
    func connectionFailed(_ connection: HTTP2Connection, reason: String)
    /// A ready connection was lost; its streams were already finished.
    func connectionLost(_ connection: HTTP2Connection, reason: String)
    /// The server sent GOAWAY: no new streams; open ones may finish.
    func connectionDraining(_ connection: HTTP2Connection)
    /// A draining connection closed after its last stream ended.
    func connectionClosed(_ connection: HTTP2Connection)
    /// The server sent GOAWAY ENHANCE_YOUR_CALM "too_many_pings" (gRFC A8): our
    /// keepalive PINGs are too frequent for it. Called just before the GOAWAY itself
    /// is reported (`connectionDraining`), so a replacement connection can ping less.
    func connectionReceivedTooManyPings(_ connection: HTTP2Connection)
    /// The connection has frames to send: call its `flush()` after this loop iteration.
    func connectionNeedsFlush(_ connection: HTTP2Connection)
    /// A stream ended (normally, by reset, or because the connection went away).
    func streamClosed(_ connection: HTTP2Connection, call: Call, errorCode: UInt32, failure: (StatusCode, String)?)
}
