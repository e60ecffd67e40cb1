/// Parsing one address given as text by a custom lookup or by `update_endpoints`.
extension EndpointAddress {
    /// One address as returned by a custom lookup or pushed by the caller:
    /// "1.2.3.4:80", "[::1]:80", "unix:/path" (also "unix:///abs"). A port is required for IPs
    /// unless `defaultPort` is given. Errors name the bad text, e.g. `invalid address "1.2.3:80": ...`.
    ///
    /// With a `defaultPort`, "1.2.3.4", "[::1]" and a bare "::1" take that port. Host names
    /// are rejected: addresses are literal, nothing is resolved here. IPv6 text is
    /// canonicalized, so equal addresses compare equal.
    ///
    /// ```swift
    /// try EndpointAddress.parse("10.0.0.1:50051")            // .ipv4(host: "10.0.0.1", port: 50051)
    /// try EndpointAddress.parse("[::1]", defaultPort: 443)   // .ipv6(host: "::1", port: 443)
    /// try EndpointAddress.parse("unix:///run/app.sock")      // .unix(path: "/run/app.sock")
    /// ```
    package static func parse(_ text: String, defaultPort: UInt16? = nil) throws(TargetParseError) -> EndpointAddress {
        let subject = TargetParseError.Subject.address(text)
        if text.isEmpty { throw TargetParseError(subject: subject, "the address is empty") }
        let whole = text[...]
        if let colon = whole.firstIndex(of: ":"), ASCII.lowercased(whole[..<colon]) == "unix" {
            return try Target.parseUnix(whole[whole.index(after: colon)...], subject: subject)
        }
        if whole.first == "[" {
            return try Target.parseIPv6Address(whole, defaultPort: defaultPort, subject: subject)
        }
        let colons = whole.utf8.reduce(0) { $0 + ($1 == UInt8(ascii: ":") ? 1 : 0) }
        if colons > 1 {
            // An unbracketed IPv6 literal can carry no port.
            guard let canonical = canonicalIPv6(whole) else {
                throw TargetParseError(subject: subject,
                    "\(ASCII.quoted(whole)) is neither IPV4:PORT nor [IPV6]:PORT")
            }
            guard let defaultPort else {
                throw TargetParseError(subject: subject,
                    "missing port in \(ASCII.quoted(whole)) (write [ADDRESS]:PORT)")
            }
            return .ipv6(host: canonical, port: defaultPort)
        }
        return try Target.parseIPv4Address(whole, defaultPort: defaultPort, subject: subject)
    }
}
