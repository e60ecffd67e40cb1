/// Standard base64 (RFC 4648 §4, alphabet `A-Z a-z 0-9 + /`), used for `-bin` metadata.
///
/// `encode` always pads with '='. `decode` accepts padded and unpadded input (gRPC peers
/// may omit padding) and returns nil on anything else: characters outside the alphabet,
/// whitespace, misplaced or excess padding, or a length that leaves a lone character.
/// Non-zero bits after the last full byte are ignored.
///
/// ```swift
/// Base64.encode(Array("foob".utf8))   // "Zm9vYg=="
/// Base64.decode("Zm9vYg")             // [0x66, 0x6F, 0x6F, 0x62]
/// ```
package enum Base64 {
    @inline(__always)
    private static func symbol(_ value: UInt8) -> UInt8 {
        switch value {
        case 0..<26: return UInt8(ascii: "A") &+ value
        case 26..<52: return UInt8(ascii: "a") &+ (value &- 26)
        case 52..<62: return UInt8(ascii: "0") &+ (value &- 52)
        case 62: return UInt8(ascii: "+")
        default: return UInt8(ascii: "/")
        }
    }

    /// The 6-bit value of a base64 character, or 0xFF if it is not one.
    @inline(__always)
    private static func value(_ char: UInt8) -> UInt8 {
        switch char {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"): return char &- UInt8(ascii: "A")
        case UInt8(ascii: "a")...UInt8(ascii: "z"): return char &- UInt8(ascii: "a") &+ 26
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return char &- UInt8(ascii: "0") &+ 52
        case UInt8(ascii: "+"): return 62
        case UInt8(ascii: "/"): return 63
        default: return 0xFF
        }
    }

    /// Encodes `bytes` with padding.
    package static func encode(_ bytes: UnsafeRawBufferPointer) -> String {
        let count = bytes.count
        if count == 0 { return "" }
        return String(unsafeUninitializedCapacity: (count + 2) / 3 * 4) { out in
            var read = 0
            var write = 0
            while read + 3 <= count {
                let b0 = bytes[read], b1 = bytes[read + 1], b2 = bytes[read + 2]
                out[write] = symbol(b0 >> 2)
                out[write + 1] = symbol((b0 & 0x03) << 4 | b1 >> 4)
                out[write + 2] = symbol((b1 & 0x0F) << 2 | b2 >> 6)
                out[write + 3] = symbol(b2 & 0x3F)
                read += 3
                write += 4
            }
            switch count - read {
            case 1:
                let b0 = bytes[read]
                out[write] = symbol(b0 >> 2)
                out[write + 1] = symbol((b0 & 0x03) << 4)
                out[write + 2] = UInt8(ascii: "=")
                out[write + 3] = UInt8(ascii: "=")
                write += 4
            case 2:
                let b0 = bytes[read], b1 = bytes[read + 1]
                out[write] = symbol(b0 >> 2)
                out[write + 1] = symbol((b0 & 0x03) << 4 | b1 >> 4)
                out[write + 2] = symbol((b1 & 0x0F) << 2)
                out[write + 3] = UInt8(ascii: "=")
                write += 4
            default:
                break
            }
            return write
        }
    }

    /// Encodes `bytes` with padding.
    package static func encode(_ bytes: [UInt8]) -> String {
        bytes.withUnsafeBytes { encode($0) }
    }

    /// Decodes padded or unpadded base64 text; nil if it is not valid base64.
    package static func decode(_ text: UnsafeRawBufferPointer) -> [UInt8]? {
        var length = text.count
        if length == 0 { return [] }
        var padding = 0
        if length % 4 == 0 {
            if text[length - 1] == UInt8(ascii: "=") { padding += 1 }
            if padding == 1, text[length - 2] == UInt8(ascii: "=") { padding += 1 }
            length -= padding
        }
        let remainder = length % 4
        if remainder == 1 { return nil }
        let outputCount = length / 4 * 3 + (remainder == 0 ? 0 : remainder - 1)
        var valid = true
        let output = [UInt8](unsafeUninitializedCapacity: outputCount) { out, count in
            var read = 0
            var write = 0
            while read + 4 <= length {
                let v0 = value(text[read]), v1 = value(text[read + 1])
                let v2 = value(text[read + 2]), v3 = value(text[read + 3])
                if (v0 | v1 | v2 | v3) & 0xC0 != 0 { valid = false; break }
                out[write] = v0 << 2 | v1 >> 4
                out[write + 1] = v1 << 4 | v2 >> 2
                out[write + 2] = v2 << 6 | v3
                read += 4
                write += 3
            }
            if valid, remainder >= 2 {
                let v0 = value(text[read]), v1 = value(text[read + 1])
                let v2 = remainder == 3 ? value(text[read + 2]) : 0
                if (v0 | v1 | v2) & 0xC0 != 0 {
                    valid = false
                } else {
                    out[write] = v0 << 2 | v1 >> 4
                    write += 1
                    if remainder == 3 {
                        out[write] = v1 << 4 | v2 >> 2
                        write += 1
                    }
                }
            }
            count = valid ? write : 0
        }
        return valid ? output : nil
    }

    /// Decodes padded or unpadded base64 text; nil if it is not valid base64.
    package static func decode(_ text: String) -> [UInt8]? {
        if let result = text.utf8.withContiguousStorageIfAvailable({ decode(UnsafeRawBufferPointer($0)) }) {
            return result
        }
        return Array(text.utf8).withUnsafeBytes { decode($0) }
    }
}
