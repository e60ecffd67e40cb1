import LBCCore

/// Everything one HTTP/2 connection needs to know, gathered by the channel when it
/// connects an endpoint (instead of a growing list of positional parameters).
///
/// ```swift
/// var configuration = ConnectionConfiguration(authority: "svc.test:443", userAgent: "lbchannel/1.0.0")
/// configuration.connectTimeoutMs = 5_000
/// configuration.tls = TLSConnector(context: context, serverName: "svc.test", endpoint: session)
/// let connection = HTTP2Connection(address: address, loop: loop, configuration: configuration)
/// ```
package struct ConnectionConfiguration {
    /// The `:authority` of every request.
    package var authority: String
    /// The user-agent header.
    package var userAgent: String
    /// SETTINGS_INITIAL_WINDOW_SIZE: each stream's receive window.
    package var streamWindow: Int = 4 << 20
    /// The time allowed for TCP connect, TLS handshake and the server's SETTINGS.
    package var connectTimeoutMs: Int64 = 20_000
    /// TLS for this connection; nil for plaintext (h2c).
    package var tls: TLSConnector? = nil
    /// Keepalive PINGs (gRFC A8); nil (the default) for none: no timer, no PING.
    package var keepalive: KeepalivePolicy? = nil
    /// Where the connection counts its PINGs (the endpoint's counters); nil for none.
    package var keepaliveStats: KeepaliveStats? = nil

    /// A configuration with the defaults for everything but the headers.
    package init(authority: String, userAgent: String) {
        self.authority = authority
        self.userAgent = userAgent
    }

    /// `:scheme`: "https" with TLS, "http" without.
    package var scheme: String { tls == nil ? "http" : "https" }
}
