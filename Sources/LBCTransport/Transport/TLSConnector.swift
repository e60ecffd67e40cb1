import LBCCore

/// What a connection needs for TLS: the channel's current context, the name to send
/// as SNI and to verify, and the endpoint's session slot (resumption and counters).
package struct TLSConnector {
    /// The context new connections use.
    package var context: TLSContext
    /// SNI and the name the server certificate must carry (a host name or IP literal).
    package var serverName: String
    /// The endpoint's session cache and handshake counters.
    package var endpoint: TLSEndpointSession

    /// Creates a connector.
    package init(context: TLSContext, serverName: String, endpoint: TLSEndpointSession) {
        self.context = context
        self.serverName = serverName
        self.endpoint = endpoint
    }
}
