/// Why ``GRPCMessageDeframer`` cannot go on; the RPC fails (RESOURCE_EXHAUSTED for
/// `messageTooLarge`, INTERNAL otherwise).
package enum DeframeError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A prefix announced `size` bytes, more than the `limit` (max_receive_message_size).
    case messageTooLarge(size: Int, limit: Int)
    /// The compressed flag is 1, but this client never negotiates compression.
    case compressedWithoutEncoding
    /// The flag byte is neither 0 nor 1.
    case invalidFlag(UInt8)

    /// A human-readable message for the RPC status.
    package var description: String {
        switch self {
        case let .messageTooLarge(size, limit):
            return "received message larger than max (\(size) vs. \(limit))"
        case .compressedWithoutEncoding:
            return "received a compressed message but no grpc-encoding was negotiated"
        case let .invalidFlag(flag):
            return "invalid compressed flag \(ASCII.hexByte(flag)) in message prefix"
        }
    }
}
