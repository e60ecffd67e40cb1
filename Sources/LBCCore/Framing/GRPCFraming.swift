/// The gRPC length-prefixed message format (grpc/grpc doc/PROTOCOL-HTTP2.md):
/// a 1-byte compressed flag, a 4-byte big-endian length, then the message.
///
/// ```swift
/// var out: [UInt8] = []
/// message.withUnsafeBytes { GRPCFraming.appendFrame($0, to: &out) }
/// ```
package enum GRPCFraming {
    /// Size of the prefix before every message.
    package static let prefixSize = 5

    /// Appends the 5-byte prefix (compressed flag 0, big-endian length) and the message
    /// to `out`. The message must be shorter than 4 GiB (callers enforce a far smaller
    /// max_send_message_size first).
    package static func appendFrame(_ message: UnsafeRawBufferPointer, to out: inout [UInt8]) {
        precondition(message.count <= Int(UInt32.max), "gRPC message larger than 4 GiB")
        let length = UInt32(truncatingIfNeeded: message.count)
        out.reserveCapacity(out.count + prefixSize + message.count)
        out.append(0)
        out.append(UInt8(truncatingIfNeeded: length >> 24))
        out.append(UInt8(truncatingIfNeeded: length >> 16))
        out.append(UInt8(truncatingIfNeeded: length >> 8))
        out.append(UInt8(truncatingIfNeeded: length))
        out.append(contentsOf: message)
    }
}
