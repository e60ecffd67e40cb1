/// Why a channel option was rejected; the options are left unchanged.
package struct OptionError: Error, Equatable, Sendable, CustomStringConvertible {
    /// Maps to LBC_ERR_UNKNOWN_OPTION / LBC_ERR_INVALID_ARGUMENT.
    package enum Kind: Sendable {
        /// The key is not an option name.
        case unknownKey
        /// The value is malformed or out of range.
        case invalidValue
    }

    /// Which error code the C API returns.
    package var kind: Kind
    /// Human-readable reason, e.g. `unknown option "foo"` or
    /// `option "connect_timeout_ms": "abc" is not an integer`.
    package var message: String

    /// Creates an error.
    package init(kind: Kind, message: String) {
        self.kind = kind
        self.message = message
    }

    /// `option "<key>": <detail>` with kind `.invalidValue`.
    static func invalid(_ key: String, _ detail: String) -> OptionError {
        OptionError(kind: .invalidValue, message: "option \(ASCII.quoted(key)): \(detail)")
    }

    /// The message.
    package var description: String { message }
}
