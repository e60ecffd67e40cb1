import Glibc

/// A resolved backend address: what one HTTP/2 connection is opened to.
///
/// IP hosts are literal addresses (never names). Use the validating factories
/// ``EndpointAddress/ip(_:port:)`` when the text comes from outside:
///
/// ```swift
/// let a = EndpointAddress.ip("::1", port: 50051)   // .ipv6(host: "::1", port: 50051)
/// a?.description                                   // "[::1]:50051"
/// ```
package enum EndpointAddress: Hashable, Sendable, CustomStringConvertible {
    /// An IPv4 address; `host` is dotted-quad text accepted by `inet_pton(AF_INET)`.
    case ipv4(host: String, port: UInt16)
    /// An IPv6 address; `host` has no brackets and is accepted by `inet_pton(AF_INET6)`.
    case ipv6(host: String, port: UInt16)
    /// A Unix domain socket path (shorter than 108 bytes).
    case unix(path: String)

    /// "127.0.0.1:50051", "[::1]:50051" or "unix:/tmp/x.sock".
    package var description: String {
        switch self {
        case let .ipv4(host, port): return "\(host):\(port)"
        case let .ipv6(host, port): return "[\(host)]:\(port)"
        case let .unix(path): return "unix:\(path)"
        }
    }

    /// The default `:authority` for this endpoint: `description` for IP endpoints,
    /// "localhost" for Unix sockets.
    package var authority: String {
        switch self {
        case .ipv4, .ipv6: return description
        case .unix: return "localhost"
        }
    }

    /// The port of an IP endpoint, nil for a Unix socket.
    package var port: UInt16? {
        switch self {
        case let .ipv4(_, port), let .ipv6(_, port): return port
        case .unix: return nil
        }
    }

    /// An IP endpoint from a literal address (IPv4 dotted quad or IPv6 without brackets),
    /// or nil when `host` is neither. IPv6 text is canonicalized (`inet_ntop`), so equal
    /// addresses compare equal.
    package static func ip(_ host: some StringProtocol, port: UInt16) -> EndpointAddress? {
        if let v4 = canonicalIPv4(host) { return .ipv4(host: v4, port: port) }
        if let v6 = canonicalIPv6(host) { return .ipv6(host: v6, port: port) }
        return nil
    }

    /// `host` if it is an IPv4 address in dotted-quad form, else nil.
    package static func canonicalIPv4(_ host: some StringProtocol) -> String? {
        let text = String(host)
        var addr = in_addr()
        guard inet_pton(AF_INET, text, &addr) == 1 else { return nil }
        return text
    }

    /// The canonical text (RFC 5952, as produced by `inet_ntop`) of an IPv6 address given
    /// without brackets, or nil if `host` is not one.
    package static func canonicalIPv6(_ host: some StringProtocol) -> String? {
        var addr = in6_addr()
        guard inet_pton(AF_INET6, String(host), &addr) == 1 else { return nil }
        return withUnsafeTemporaryAllocation(of: CChar.self, capacity: Int(INET6_ADDRSTRLEN)) { buffer in
            guard let base = buffer.baseAddress,
                  let text = inet_ntop(AF_INET6, &addr, base, socklen_t(INET6_ADDRSTRLEN))
            else { return nil }
            return String(cString: text)
        }
    }
}
