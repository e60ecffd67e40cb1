/// Small ASCII helpers shared by the parsers of this module (no Foundation).
enum ASCII {
    /// The value of an ASCII hex digit (either case), or nil.
    @inline(__always)
    static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte &- UInt8(ascii: "0")
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte &- UInt8(ascii: "A") &+ 10
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte &- UInt8(ascii: "a") &+ 10
        default: return nil
        }
    }

    /// Uppercase hex digit for a value 0...15.
    @inline(__always)
    static func hexDigit(_ nibble: UInt8) -> UInt8 {
        nibble < 10 ? UInt8(ascii: "0") &+ nibble : UInt8(ascii: "A") &+ (nibble &- 10)
    }

    @inline(__always)
    static func isDigit(_ byte: UInt8) -> Bool {
        byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")
    }

    /// Parses a TCP port: 1 to 5 ASCII digits with a value in 1...65535.
    static func parsePort(_ text: Substring) -> UInt16? {
        let utf8 = text.utf8
        guard !utf8.isEmpty, utf8.count <= 5 else { return nil }
        var value: UInt32 = 0
        for byte in utf8 {
            guard isDigit(byte) else { return nil }
            value = value * 10 + UInt32(byte &- UInt8(ascii: "0"))
        }
        guard value >= 1, value <= 65535 else { return nil }
        return UInt16(value)
    }

    /// `text` between double quotes, with `"`, `\` and control characters escaped, for
    /// error messages.
    static func quoted(_ text: some StringProtocol) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\u{0}"..."\u{1F}", "\u{7F}":
                let value = UInt8(scalar.value)
                out += "\\x"
                out.unicodeScalars.append(Unicode.Scalar(hexDigit(value >> 4)))
                out.unicodeScalars.append(Unicode.Scalar(hexDigit(value & 0xF)))
            default: out.unicodeScalars.append(scalar)
            }
        }
        out += "\""
        return out
    }

    /// A byte as `0xNN`, for error messages.
    static func hexByte(_ byte: UInt8) -> String {
        var out = "0x"
        out.unicodeScalars.append(Unicode.Scalar(hexDigit(byte >> 4)))
        out.unicodeScalars.append(Unicode.Scalar(hexDigit(byte & 0xF)))
        return out
    }

    /// ASCII-lowercased copy (non-ASCII left alone).
    static func lowercased(_ text: some StringProtocol) -> String {
        String(decoding: text.utf8.map { byte in
            (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z")) ? byte | 0x20 : byte
        }, as: UTF8.self)
    }
}
