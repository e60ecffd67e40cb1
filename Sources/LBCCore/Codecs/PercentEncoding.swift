/// Percent-encoding of the `grpc-message` header (grpc/grpc doc/PROTOCOL-HTTP2.md).
///
/// The status message is UTF-8; every byte outside 0x20...0x7E, and '%' itself, is sent
/// as `%XX` with uppercase hex.
///
/// ```swift
/// PercentEncoding.encode("50% off ✓")        // "50%25 off %E2%9C%93"
/// PercentEncoding.decode("50%25 off %E2%9C%93") // "50% off ✓"
/// ```
package enum PercentEncoding {
    @inline(__always)
    private static func needsEscape(_ byte: UInt8) -> Bool {
        byte < 0x20 || byte > 0x7E || byte == UInt8(ascii: "%")
    }

    /// Encodes the UTF-8 bytes of `text`. Returns `text` itself when nothing needs escaping.
    package static func encode(_ text: String) -> String {
        var escapes = 0
        for byte in text.utf8 where needsEscape(byte) { escapes += 1 }
        if escapes == 0 { return text }
        if let result = text.utf8.withContiguousStorageIfAvailable({ buffer in
            encode(UnsafeRawBufferPointer(buffer), escapes: escapes)
        }) {
            return result
        }
        return Array(text.utf8).withUnsafeBytes { encode($0, escapes: escapes) }
    }

    /// Encodes arbitrary bytes (typically UTF-8 text).
    package static func encode(_ bytes: UnsafeRawBufferPointer) -> String {
        var escapes = 0
        for byte in bytes where needsEscape(byte) { escapes += 1 }
        return encode(bytes, escapes: escapes)
    }

    private static func encode(_ bytes: UnsafeRawBufferPointer, escapes: Int) -> String {
        String(unsafeUninitializedCapacity: bytes.count + 2 * escapes) { out in
            var index = 0
            for byte in bytes {
                if needsEscape(byte) {
                    out[index] = UInt8(ascii: "%")
                    out[index + 1] = ASCII.hexDigit(byte >> 4)
                    out[index + 2] = ASCII.hexDigit(byte & 0x0F)
                    index += 3
                } else {
                    out[index] = byte
                    index += 1
                }
            }
            return index
        }
    }

    /// Lenient decode: `%XX` (either hex case) becomes a byte; a '%' not followed by two hex
    /// digits is kept literally. The bytes are decoded as UTF-8, invalid sequences replaced
    /// by U+FFFD.
    package static func decode(_ bytes: UnsafeRawBufferPointer) -> String {
        guard bytes.contains(UInt8(ascii: "%")) else {
            return String(decoding: bytes, as: UTF8.self)
        }
        let decoded = [UInt8](unsafeUninitializedCapacity: bytes.count) { out, count in
            var read = 0
            var write = 0
            let end = bytes.count
            while read < end {
                let byte = bytes[read]
                if byte == UInt8(ascii: "%"), read + 2 < end,
                   let high = ASCII.hexValue(bytes[read + 1]), let low = ASCII.hexValue(bytes[read + 2]) {
                    out[write] = high << 4 | low
                    read += 3
                } else {
                    out[write] = byte
                    read += 1
                }
                write += 1
            }
            count = write
        }
        return String(decoding: decoded, as: UTF8.self)
    }

    /// Lenient decode of header text; see ``decode(_:)-(UnsafeRawBufferPointer)``.
    package static func decode(_ text: String) -> String {
        if let result = text.utf8.withContiguousStorageIfAvailable({ decode(UnsafeRawBufferPointer($0)) }) {
            return result
        }
        return Array(text.utf8).withUnsafeBytes { decode($0) }
    }
}
