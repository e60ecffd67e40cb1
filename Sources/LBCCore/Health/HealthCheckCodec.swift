/// The two grpc.health.v1 messages health checking exchanges, encoded and decoded by
/// hand (protobuf wire format, a few lines of varint code instead of a protobuf
/// library):
///
/// ```proto
/// message HealthCheckRequest  { string service = 1; }
/// message HealthCheckResponse { ServingStatus status = 1; }   // enum: int32 varint
/// ```
///
/// ```swift
/// let request = HealthCheckCodec.request(service: "pkg.Svc")   // [0x0A, 7, "pkg.Svc"…]
/// let status = try HealthCheckCodec.status(of: [0x08, 0x01])   // 1 (SERVING)
/// ```
package enum HealthCheckCodec {
    /// Why a HealthCheckResponse could not be decoded.
    package struct DecodeError: Error, Equatable, CustomStringConvertible {
        package let description: String
        init(_ description: String) { self.description = description }
    }

    /// The serialized HealthCheckRequest for `service` (proto3: the empty string is the
    /// default value and is not written, so the request for "" is empty).
    package static func request(service: String) -> [UInt8] {
        let bytes = Array(service.utf8)
        guard !bytes.isEmpty else { return [] }
        var out: [UInt8] = [0x0A]  // field 1, wire type 2 (length-delimited)
        appendVarint(UInt64(bytes.count), to: &out)
        out += bytes
        return out
    }

    /// The `status` field of a serialized HealthCheckResponse as its raw enum value
    /// (0, UNKNOWN, when absent; the last occurrence wins, as protobuf parsers do).
    /// Unknown fields of any wire type are skipped; truncated or malformed input
    /// (overlong varints, groups, lengths past the end) throws.
    package static func status(of message: some Collection<UInt8>) throws(DecodeError) -> Int32 {
        var reader = Reader(bytes: Array(message))
        var status: Int32 = 0
        while !reader.atEnd {
            let key = try reader.varint()
            let field = key >> 3
            guard field != 0 else { throw DecodeError("field number 0") }
            switch key & 7 {
            case 0:
                let value = try reader.varint()
                // An enum is an int32: negative values are sign-extended to 64 bits.
                if field == 1 { status = Int32(truncatingIfNeeded: value) }
            case 1:
                try reader.skip(8)
            case 2:
                let length = try reader.varint()
                guard length <= UInt64(reader.remaining) else {
                    throw DecodeError("field \(field): length \(length) past the end of the message")
                }
                if field == 1 { throw DecodeError("field 1 (status) is length-delimited, not a varint") }
                try reader.skip(Int(length))
            case 5:
                try reader.skip(4)
            default:
                throw DecodeError("field \(field): unsupported wire type \(key & 7)")
            }
        }
        return status
    }

    /// Append `value` as a base-128 varint.
    static func appendVarint(_ value: UInt64, to out: inout [UInt8]) {
        var v = value
        while v >= 0x80 {
            out.append(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        out.append(UInt8(v))
    }

    private struct Reader {
        let bytes: [UInt8]
        var offset = 0

        var atEnd: Bool { offset >= bytes.count }
        var remaining: Int { bytes.count - offset }

        /// A varint of at most 10 bytes.
        mutating func varint() throws(DecodeError) -> UInt64 {
            var value: UInt64 = 0
            var shift: UInt64 = 0
            while true {
                guard offset < bytes.count else { throw DecodeError("truncated varint") }
                let byte = bytes[offset]
                offset += 1
                if shift == 63 && byte > 1 { throw DecodeError("varint longer than 64 bits") }
                value |= UInt64(byte & 0x7F) << shift
                if byte & 0x80 == 0 { return value }
                shift += 7
                if shift > 63 { throw DecodeError("varint longer than 10 bytes") }
            }
        }

        mutating func skip(_ count: Int) throws(DecodeError) {
            guard count <= remaining else { throw DecodeError("truncated field") }
            offset += count
        }
    }
}
