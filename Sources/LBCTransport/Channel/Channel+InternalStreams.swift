import LBCCore

/// Internal streams (``InternalCall``): streams the channel opens for itself on a
/// chosen endpoint's connection, outside the balancer and the call counters.
extension Channel {
    /// Open `stream` on `endpoint`'s current connection (it may wait there for a
    /// stream slot). False when that connection cannot take streams (none, not READY,
    /// draining) or the channel is closing; the delegate then hears nothing. Loop thread.
    func openInternalStream(_ stream: InternalCall, on endpoint: Endpoint) -> Bool {
        guard !isShutDown, let connection = endpoint.connection, connection.startStream(stream) else { return false }
        // `stream.endpoint` stays nil: no counter, balancer load or ejection sees it.
        stream.channel = self
        stream.peerName = endpoint.addressText
        stream.dispatchedNs = EventLoop.now()
        stream.waiterless = true
        loop.noteWaiterlessCall(started: true)
        endpoint.streamStarted(on: connection)
        return true
    }

    /// End `stream` with CANCELLED (RST_STREAM CANCEL if it is open); its delegate hears
    /// of the end before this returns. Loop thread.
    func cancelInternalStream(_ stream: InternalCall) {
        cancel(stream, dispatched: true)
    }

    /// A refused internal stream is not retried elsewhere: it ends UNAVAILABLE (its
    /// owner decides when to open it again).
    func internalStreamRefused(_ stream: InternalCall, on connection: HTTP2Connection) {
        finish(stream, .unavailable, "stream refused by \(connection.address)")
    }
}
