/// gRPC metadata rules (grpc/grpc doc/PROTOCOL-HTTP2.md, "Custom-Metadata").
///
/// Keys are 1+ characters of `[0-9a-z-_.]`. Values of keys ending in "-bin" are arbitrary
/// bytes (base64 on the wire); other values are printable ASCII 0x20...0x7E. Keys starting
/// with ":" or "grpc-", and "content-type", "te", "user-agent", "host", "connection" are
/// reserved: the library sets them, users cannot.
///
/// ```swift
/// MetadataValidation.problem(key: "Foo", value: bytes)   // `metadata key "Foo" must be lowercase`
/// ```
package enum MetadataValidation {
    /// Headers only the library may send.
    package static let reservedKeys: Set<String> = ["content-type", "te", "user-agent", "host", "connection"]

    /// True for keys ending in "-bin" (binary values, base64 on the wire).
    package static func isBinaryKey(_ key: String) -> Bool {
        key.utf8.count >= 4 && key.hasSuffix("-bin")
    }

    /// True for a byte allowed in a key: `[0-9a-z-_.]`.
    @inline(__always)
    package static func isKeyByte(_ byte: UInt8) -> Bool {
        (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z")) || ASCII.isDigit(byte)
            || byte == UInt8(ascii: "-") || byte == UInt8(ascii: "_") || byte == UInt8(ascii: ".")
    }

    /// Problem with `key` alone (syntax or reserved), nil if none.
    package static func problem(key: String) -> String? {
        if key.isEmpty { return "metadata key must not be empty" }
        if key.hasPrefix(":") || key.hasPrefix("grpc-") || reservedKeys.contains(key) {
            return "metadata key \(ASCII.quoted(key)) is reserved"
        }
        for scalar in key.unicodeScalars {
            if scalar.isASCII, isKeyByte(UInt8(scalar.value)) { continue }
            if scalar >= "A" && scalar <= "Z" {
                return "metadata key \(ASCII.quoted(key)) must be lowercase"
            }
            return "metadata key \(ASCII.quoted(key)) contains \(ASCII.quoted(String(scalar)))"
                + " (allowed: 0-9 a-z - _ .)"
        }
        return nil
    }

    /// nil if `key` may be sent with `value`, else a human-readable reason, e.g.
    /// `metadata key "Foo" must be lowercase`.
    package static func problem(key: String, value: UnsafeRawBufferPointer) -> String? {
        if let problem = problem(key: key) { return problem }
        if isBinaryKey(key) { return nil }
        for (offset, byte) in value.enumerated() where byte < 0x20 || byte > 0x7E {
            return "metadata value of \(ASCII.quoted(key)) has byte \(ASCII.hexByte(byte)) at offset \(offset);"
                + " only printable ASCII (0x20-0x7E) is allowed unless the key ends in \"-bin\""
        }
        return nil
    }
}
