/// The `:path` of an RPC: "/" followed by one or more bytes of visible ASCII
/// (0x21...0x7E), normally "/package.Service/Method".
///
/// Control bytes (CR, LF, NUL...), spaces, DEL and non-ASCII are refused before
/// anything is sent: RFC 9113 §8.2.1 forbids CR, LF and NUL in field values, and a
/// proxy that downgrades the request to HTTP/1.1 could be made to split it.
///
/// ```swift
/// MethodPath.problem("/pkg.Svc/Do\r\nX: 1")   // `method "/pkg.Svc/Do\x0D\x0AX: 1" has byte 0x0D at offset 11 ...`
/// ```
package enum MethodPath {
    /// nil when `path` may be sent, else a human-readable reason.
    package static func problem(_ path: String) -> String? {
        // One pass over the contiguous UTF-8 (this runs on every call).
        var text = path
        let verdict: Int? = text.withUTF8 { bytes in
            guard bytes.count > 1, bytes[0] == UInt8(ascii: "/") else { return -1 }
            for i in 1..<bytes.count where bytes[i] < 0x21 || bytes[i] > 0x7E { return i }
            return nil
        }
        guard let offset = verdict else { return nil }
        if offset < 0 { return "method \(ASCII.quoted(path)) must look like \"/package.Service/Method\"" }
        let byte = path.utf8[path.utf8.index(path.utf8.startIndex, offsetBy: offset)]
        return "method \(ASCII.quoted(path)) has byte \(ASCII.hexByte(byte)) at offset \(offset)"
            + " (allowed: visible ASCII 0x21-0x7E)"
    }
}
