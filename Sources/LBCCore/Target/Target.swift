/// A parsed target in gRPC naming syntax (grpc/grpc doc/naming.md).
///
/// ```swift
/// try Target.parse("ipv4:10.0.0.1:50051,10.0.0.2:50051")
/// // .addresses([.ipv4(host: "10.0.0.1", port: 50051), .ipv4(host: "10.0.0.2", port: 50051)])
/// try Target.parse("dns://127.0.0.1:5353/backend.test:443")
/// // .dns(server: "127.0.0.1:5353", host: "backend.test", port: 443)
/// try Target.parse("backend.test")   // .dns(server: nil, host: "backend.test", port: 443)
/// ```
package enum Target: Equatable, Sendable {
    /// Fixed endpoints: `ipv4:ADDR:PORT[,ADDR:PORT...]`, `ipv6:[ADDR]:PORT[,[ADDR]:PORT...]`,
    /// `unix:PATH` or `unix:///ABSOLUTE/PATH`. Never empty.
    case addresses([EndpointAddress])
    /// A name to resolve: `dns:///host:port`, `dns://SERVER_IP:SERVER_PORT/host:port`,
    /// `dns:host:port`, or a bare `host:port` / `host` / `[v6]:port` (no scheme).
    /// `server` is the DNS server authority text (e.g. "127.0.0.1:5353", "[::1]:53") or nil
    /// for the system resolver. `host` is a host name or a literal IP (IPv6 without
    /// brackets); `port` defaults to 443 when omitted.
    case dns(server: String?, host: String, port: UInt16)
    /// No discovery: `manual:` (anything after the colon is ignored); the endpoints
    /// come only from pushes (lbc_channel_set_endpoints).
    case manual

    /// The port used when a DNS target names none.
    package static let defaultPort: UInt16 = 443

    /// Longest Unix socket path accepted, in bytes (`sun_path` is 108 bytes with the NUL).
    package static let maxUnixPathLength = 107

    /// Parses `text`; throws a ``TargetParseError`` naming the bad piece.
    package static func parse(_ text: String) throws(TargetParseError) -> Target {
        if text.isEmpty { throw TargetParseError(target: text, "the target is empty") }
        if let colon = text.firstIndex(of: ":") {
            let scheme = text[..<colon]
            let rest = text[text.index(after: colon)...]
            switch ASCII.lowercased(scheme) {
            case "ipv4": return .addresses(try parseIPv4List(rest, subject: .target(text)))
            case "ipv6": return .addresses(try parseIPv6List(rest, subject: .target(text)))
            case "unix": return .addresses([try parseUnix(rest, subject: .target(text))])
            case "dns": return try parseDNS(rest, subject: .target(text))
            case "manual": return .manual
            case "unix-abstract", "vsock", "xds", "google-c2p":
                var error = TargetParseError(target: text, "scheme \(ASCII.quoted(scheme)) is not supported")
                error.isUnsupported = true
                throw error
            default:
                if rest.hasPrefix("//") && isSchemeName(scheme) {
                    throw TargetParseError(target: text, "unknown scheme \(ASCII.quoted(scheme))"
                        + " (supported: dns, ipv4, ipv6, unix, manual)")
                }
            }
        }
        let (host, port) = try parseHostPort(text[...], subject: .target(text))
        return .dns(server: nil, host: host, port: port ?? defaultPort)
    }
}
