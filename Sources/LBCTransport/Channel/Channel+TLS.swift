import LBCCore

extension Channel {
    /// The settings of a new connection to `endpoint`. Loop thread.
    func connectionConfiguration(for endpoint: Endpoint) -> ConnectionConfiguration {
        var configuration = ConnectionConfiguration(
            authority: options.authority ?? tls?.authority(for: endpoint.address) ?? endpoint.address.authority,
            userAgent: (options.userAgent.map { $0 + " " } ?? "") + "lbchannel/\(LBChannelVersion.string)")
        configuration.streamWindow = options.streamWindowBytes
        configuration.connectTimeoutMs = options.connectTimeoutMs
        if let tls {
            let session: TLSEndpointSession
            if let existing = endpoint.tlsSession {
                session = existing
            } else {
                session = TLSEndpointSession()
                session.enabled = tls.context.options.sessionResumption
                endpoint.tlsSession = session
            }
            configuration.tls = TLSConnector(context: tls.context, serverName: tls.serverName(for: endpoint.address),
                                             endpoint: session)
        }
        return configuration
    }

    /// Re-read the TLS files (CA, client certificate and key) and use the result for
    /// new connections; existing connections keep their context. Any thread but the
    /// channel's own. Throws (changing nothing) when the files cannot be used, or when
    /// the channel is plaintext.
    package func reloadTLS() throws(TransportError) {
        guard let tls else { throw TransportError("the channel does not use TLS") }
        guard let current = onLoop({ tls.context }) else { throw TransportError("the channel is closed") }
        let fresh = try TLSContext(options: current.options)
        let accepted = onLoop {
            tls.context = fresh
            for e in self.endpoints { e.tlsSession?.forget() }
            self.emit(.info, "\(self.targetText): TLS files reloaded; new connections use them")
        }
        if accepted == nil { throw TransportError("the channel is closed") }
    }
}
