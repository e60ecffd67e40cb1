import LBCCore

/// A channel's TLS settings: the context new connections use (replaced by
/// `Channel.reloadTLS()`), and the names to verify and to send as `:authority`.
///
/// ```swift
/// let tls = ChannelTLS(context: try TLSContext(options: options.tls), serviceHost: "svc.test", servicePort: 443)
/// let channel = try Channel(source: source, targetText: target, options: options, tls: tls)
/// ```
package final class ChannelTLS: @unchecked Sendable {
    /// The context for new connections. Read and replaced on the loop thread only.
    var context: TLSContext
    /// The target's service host name (dns: targets); nil for address lists, where
    /// each endpoint's own address is verified unless `tls_server_name` is set.
    package let serviceHost: String?
    /// The target's port (for the default `:authority` "host:port").
    package let servicePort: UInt16?

    /// TLS with `context` for a target naming `serviceHost` (nil: address targets).
    package init(context: TLSContext, serviceHost: String?, servicePort: UInt16?) {
        self.context = context
        self.serviceHost = serviceHost
        self.servicePort = servicePort
    }

    /// The name the certificate of `address` must carry and SNI sends:
    /// `tls_server_name`, else the service host, else the endpoint's host
    /// ("localhost" for unix sockets).
    func serverName(for address: EndpointAddress) -> String {
        if let name = context.options.serverName { return name }
        if let serviceHost { return serviceHost }
        switch address {
        case .ipv4(let host, _), .ipv6(let host, _): return host
        case .unix: return "localhost"
        }
    }

    /// The default `:authority` (when the `authority` option is not set):
    /// `tls_server_name`, else "service-host:port", else the endpoint's authority.
    func authority(for address: EndpointAddress) -> String {
        if let name = context.options.serverName { return name }
        if let serviceHost, let servicePort {
            return serviceHost.contains(":") ? "[\(serviceHost)]:\(servicePort)" : "\(serviceHost):\(servicePort)"
        }
        return address.authority
    }
}
