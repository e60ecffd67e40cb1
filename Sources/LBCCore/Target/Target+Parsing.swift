/// The pieces of ``Target/parse(_:)``, shared with ``EndpointAddress/parse(_:defaultPort:)``.
extension Target {
    /// RFC 3986 scheme: ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ).
    static func isSchemeName(_ text: Substring) -> Bool {
        guard let first = text.utf8.first, isAlpha(first) else { return false }
        return text.utf8.allSatisfy { isAlpha($0) || ASCII.isDigit($0) || $0 == UInt8(ascii: "+")
            || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: ".") }
    }

    private static func isAlpha(_ byte: UInt8) -> Bool {
        let lower = byte | 0x20
        return lower >= UInt8(ascii: "a") && lower <= UInt8(ascii: "z")
    }

    /// Splits a comma-separated address list, rejecting an empty list or empty elements.
    private static func splitList(_ text: Substring, subject: TargetParseError.Subject) throws(TargetParseError) -> [Substring] {
        if text.isEmpty { throw TargetParseError(subject: subject, "the address list is empty") }
        let parts = text.split(separator: ",", omittingEmptySubsequences: false)
        for (index, part) in parts.enumerated() where part.isEmpty {
            throw TargetParseError(subject: subject, "address \(index + 1) of the list is empty")
        }
        return parts
    }

    private static func port(_ text: Substring, in element: Substring, subject: TargetParseError.Subject) throws(TargetParseError) -> UInt16 {
        if text.isEmpty {
            throw TargetParseError(subject: subject, "missing port in \(ASCII.quoted(element))")
        }
        guard let port = ASCII.parsePort(text) else {
            throw TargetParseError(subject: subject, "\(ASCII.quoted(text)) is not a valid port (1-65535)")
        }
        return port
    }

    static func parseIPv4List(_ text: Substring, subject: TargetParseError.Subject) throws(TargetParseError) -> [EndpointAddress] {
        var result: [EndpointAddress] = []
        for element in try splitList(text, subject: subject) {
            result.append(try parseIPv4Address(element, defaultPort: nil, subject: subject))
        }
        return result
    }

    static func parseIPv6List(_ text: Substring, subject: TargetParseError.Subject) throws(TargetParseError) -> [EndpointAddress] {
        var result: [EndpointAddress] = []
        for element in try splitList(text, subject: subject) {
            result.append(try parseIPv6Address(element, defaultPort: nil, subject: subject))
        }
        return result
    }

    /// `ADDRESS:PORT` with a dotted-quad IPv4 address; a bare `ADDRESS` takes `defaultPort`
    /// when there is one.
    static func parseIPv4Address(_ element: Substring, defaultPort: UInt16?,
                                 subject: TargetParseError.Subject) throws(TargetParseError) -> EndpointAddress {
        guard let colon = element.lastIndex(of: ":") else {
            guard let defaultPort else {
                throw TargetParseError(subject: subject, "missing port in \(ASCII.quoted(element))")
            }
            guard let canonical = EndpointAddress.canonicalIPv4(element) else {
                throw TargetParseError(subject: subject, "\(ASCII.quoted(element)) is not an IPv4 address")
            }
            return .ipv4(host: canonical, port: defaultPort)
        }
        let host = element[..<colon]
        guard let canonical = EndpointAddress.canonicalIPv4(host) else {
            throw TargetParseError(subject: subject, "\(ASCII.quoted(host)) is not an IPv4 address")
        }
        let portText = element[element.index(after: colon)...]
        return .ipv4(host: canonical, port: try port(portText, in: element, subject: subject))
    }

    /// `[ADDRESS]:PORT` with an IPv6 address; `[ADDRESS]` takes `defaultPort` when there is one.
    static func parseIPv6Address(_ element: Substring, defaultPort: UInt16?,
                                 subject: TargetParseError.Subject) throws(TargetParseError) -> EndpointAddress {
        guard element.first == "[", let close = element.firstIndex(of: "]") else {
            throw TargetParseError(subject: subject,
                "\(ASCII.quoted(element)) must be written as [ADDRESS]:PORT")
        }
        let host = element[element.index(after: element.startIndex)..<close]
        guard let canonical = EndpointAddress.canonicalIPv6(host) else {
            throw TargetParseError(subject: subject, "\(ASCII.quoted(host)) is not an IPv6 address")
        }
        let afterBracket = element[element.index(after: close)...]
        guard afterBracket.first == ":" else {
            if afterBracket.isEmpty {
                guard let defaultPort else {
                    throw TargetParseError(subject: subject, "missing port in \(ASCII.quoted(element))")
                }
                return .ipv6(host: canonical, port: defaultPort)
            }
            throw TargetParseError(subject: subject,
                "\(ASCII.quoted(element)) must be written as [ADDRESS]:PORT")
        }
        let portText = afterBracket.dropFirst()
        return .ipv6(host: canonical, port: try port(portText, in: element, subject: subject))
    }

    static func parseUnix(_ text: Substring, subject: TargetParseError.Subject) throws(TargetParseError) -> EndpointAddress {
        var path = text
        if path.hasPrefix("//") {
            // unix://AUTHORITY/PATH: only an empty authority is meaningful.
            path = path.dropFirst(2)
            guard path.first == "/" else {
                throw TargetParseError(subject: subject,
                    "\"//\" must be followed by an absolute path: unix:///ABSOLUTE/PATH")
            }
        }
        if path.isEmpty { throw TargetParseError(subject: subject, "the socket path is empty") }
        if path.utf8.contains(0) {
            throw TargetParseError(subject: subject, "the socket path contains a NUL byte")
        }
        let length = path.utf8.count
        if length > maxUnixPathLength {
            throw TargetParseError(subject: subject,
                "the socket path is \(length) bytes long (at most \(maxUnixPathLength))")
        }
        return .unix(path: String(path))
    }

    static func parseDNS(_ text: Substring, subject: TargetParseError.Subject) throws(TargetParseError) -> Target {
        var server: String? = nil
        var rest = text
        if rest.hasPrefix("//") {
            rest = rest.dropFirst(2)
            guard let slash = rest.firstIndex(of: "/") else {
                throw TargetParseError(subject: subject, "missing host: expected dns://[DNS_SERVER]/HOST[:PORT]")
            }
            let authority = rest[..<slash]
            if !authority.isEmpty {
                try validateDNSServer(authority, subject: subject)
                server = String(authority)
            }
            rest = rest[rest.index(after: slash)...]
        } else if rest.first == "/" {
            rest = rest.dropFirst()  // dns:/host:port (URI path form)
        }
        if rest.isEmpty { throw TargetParseError(subject: subject, "missing host") }
        let (host, port) = try parseHostPort(rest, subject: subject)
        return .dns(server: server, host: host, port: port ?? defaultPort)
    }

    /// A DNS server must be an IP literal with an optional port: `1.2.3.4`, `1.2.3.4:53`,
    /// `[::1]`, `[::1]:53`.
    private static func validateDNSServer(_ text: Substring, subject: TargetParseError.Subject) throws(TargetParseError) {
        let problem = "DNS server \(ASCII.quoted(text)) must be IPV4[:PORT] or [IPV6][:PORT]"
        var host = text
        var portText: Substring? = nil
        if text.first == "[" {
            guard let close = text.firstIndex(of: "]") else { throw TargetParseError(subject: subject, problem) }
            host = text[text.index(after: text.startIndex)..<close]
            let after = text[text.index(after: close)...]
            if !after.isEmpty {
                guard after.first == ":" else { throw TargetParseError(subject: subject, problem) }
                portText = after.dropFirst()
            }
            guard EndpointAddress.canonicalIPv6(host) != nil else {
                throw TargetParseError(subject: subject, problem)
            }
        } else {
            if let colon = text.lastIndex(of: ":") {
                host = text[..<colon]
                portText = text[text.index(after: colon)...]
            }
            guard EndpointAddress.canonicalIPv4(host) != nil else {
                throw TargetParseError(subject: subject, problem)
            }
        }
        if let portText, ASCII.parsePort(portText) == nil {
            throw TargetParseError(subject: subject,
                "DNS server port \(ASCII.quoted(portText)) is not a valid port (1-65535)")
        }
    }

    /// Splits `host[:port]`, `[v6][:port]` or an unbracketed IPv6 literal (no port).
    /// The host comes back without brackets; the port is nil when absent.
    static func parseHostPort(_ text: Substring, subject: TargetParseError.Subject) throws(TargetParseError) -> (String, UInt16?) {
        if text.first == "[" {
            guard let close = text.firstIndex(of: "]") else {
                throw TargetParseError(subject: subject, "missing \"]\" in \(ASCII.quoted(text))")
            }
            let host = text[text.index(after: text.startIndex)..<close]
            guard let canonical = EndpointAddress.canonicalIPv6(host) else {
                throw TargetParseError(subject: subject, "\(ASCII.quoted(host)) is not an IPv6 address")
            }
            let after = text[text.index(after: close)...]
            if after.isEmpty { return (canonical, nil) }
            guard after.first == ":" else {
                throw TargetParseError(subject: subject,
                    "unexpected \(ASCII.quoted(after)) after \"]\" (expected :PORT)")
            }
            return (canonical, try port(after.dropFirst(), in: text, subject: subject))
        }
        let colons = text.utf8.reduce(0) { $0 + ($1 == UInt8(ascii: ":") ? 1 : 0) }
        if colons > 1 {
            guard let canonical = EndpointAddress.canonicalIPv6(text) else {
                throw TargetParseError(subject: subject,
                    "\(ASCII.quoted(text)) is neither HOST:PORT nor an IPv6 address (write [ADDRESS]:PORT)")
            }
            return (canonical, nil)
        }
        var host = text
        var portValue: UInt16? = nil
        if let colon = text.firstIndex(of: ":") {
            host = text[..<colon]
            portValue = try port(text[text.index(after: colon)...], in: text, subject: subject)
        }
        try validateHostName(host, subject: subject)
        return (String(host), portValue)
    }

    /// Host names: 1...253 characters of letters, digits, '-', '_' and '.', with an optional
    /// trailing dot (IPv4 literals are a subset).
    private static func validateHostName(_ host: Substring, subject: TargetParseError.Subject) throws(TargetParseError) {
        if host.isEmpty { throw TargetParseError(subject: subject, "missing host") }
        var length = host.utf8.count
        if host.utf8.last == UInt8(ascii: ".") { length -= 1 }
        let valid = length >= 1 && length <= 253 && host.utf8.allSatisfy { byte in
            isAlpha(byte) || ASCII.isDigit(byte) || byte == UInt8(ascii: "-")
                || byte == UInt8(ascii: "_") || byte == UInt8(ascii: ".")
        }
        if !valid {
            throw TargetParseError(subject: subject, "\(ASCII.quoted(host)) is not a valid host name")
        }
    }
}
