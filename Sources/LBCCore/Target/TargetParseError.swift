/// Why ``Target/parse(_:)`` rejected a target string, or ``EndpointAddress/parse(_:defaultPort:)``
/// an address.
package struct TargetParseError: Error, Equatable, Sendable, CustomStringConvertible {
    /// What was being parsed: names the whole text at the start of the message.
    package enum Subject: Sendable {
        /// A target (``Target/parse(_:)``): `invalid target "<text>": ...`.
        case target(String)
        /// One endpoint address (``EndpointAddress/parse(_:defaultPort:)``):
        /// `invalid address "<text>": ...`.
        case address(String)
    }

    /// Human-readable reason naming the bad piece, e.g.
    /// `invalid target "ipv4:1.2.3:80": "1.2.3" is not an IPv4 address` or
    /// `invalid address "1.2.3:80": "1.2.3" is not an IPv4 address`.
    package var message: String
    /// True when the text is well-formed but names a scheme this version does not
    /// implement (e.g. `xds:`), as opposed to malformed text.
    package var isUnsupported = false

    /// Creates an error with a complete message.
    package init(message: String) {
        self.message = message
    }

    /// Creates `invalid target "<target>": <detail>`.
    init(target: String, _ detail: String) {
        self.init(subject: .target(target), detail)
    }

    /// Creates `invalid target "<text>": <detail>` or `invalid address "<text>": <detail>`.
    init(subject: Subject, _ detail: String) {
        switch subject {
        case let .target(text): self.message = "invalid target \(ASCII.quoted(text)): \(detail)"
        case let .address(text): self.message = "invalid address \(ASCII.quoted(text)): \(detail)"
        }
    }

    /// The message.
    package var description: String { message }
}
