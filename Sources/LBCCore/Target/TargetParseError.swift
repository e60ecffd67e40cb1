/// Why ``Target/parse(_:)`` rejected a target string.
package struct TargetParseError: Error, Equatable, Sendable, CustomStringConvertible {
    /// Human-readable reason naming the bad piece, e.g.
    /// `invalid target "ipv4:1.2.3:80": "1.2.3" is not an IPv4 address`.
    package var message: String

    /// Creates an error with a complete message.
    package init(message: String) {
        self.message = message
    }

    /// Creates `invalid target "<target>": <detail>`.
    init(target: String, _ detail: String) {
        self.message = "invalid target \(ASCII.quoted(target)): \(detail)"
    }

    /// The message.
    package var description: String { message }
}
