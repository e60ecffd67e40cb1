/// Incremental parser of length-prefixed gRPC messages from HTTP/2 DATA chunks of any size.
///
/// ```swift
/// var deframer = GRPCMessageDeframer(maxMessageSize: 4 << 20)
/// deframer.append(chunk)                       // from each DATA frame
/// while let message = try deframer.next() { deliver(message) }
/// // at END_STREAM: deframer.hasPartialMessage → INTERNAL "stream ended mid-message"
/// ```
///
/// After `next()` throws, the deframer stays failed: later calls throw the same error.
package struct GRPCMessageDeframer: Sendable {
    /// Largest accepted message body in bytes.
    package let maxMessageSize: Int
    private var buffer: [UInt8] = []
    /// Index in `buffer` of the first unconsumed byte.
    private var readIndex = 0

    /// Creates a deframer that rejects messages larger than `maxMessageSize` bytes.
    package init(maxMessageSize: Int) {
        self.maxMessageSize = max(0, maxMessageSize)
    }

    /// Bytes buffered and not yet returned by `next()`.
    package var bufferedByteCount: Int { buffer.count - readIndex }

    /// Bytes held in the internal buffer, consumed ones included (for tests).
    var storageByteCount: Int { buffer.count }

    /// Copies `bytes` into the internal buffer.
    package mutating func append(_ bytes: UnsafeRawBufferPointer) {
        guard !bytes.isEmpty else { return }
        if readIndex == buffer.count {
            buffer.removeAll(keepingCapacity: true)
            readIndex = 0
        } else if readIndex >= 4096, readIndex * 2 >= buffer.count {
            // Drop consumed bytes once they dominate, so the buffer does not grow forever.
            buffer.removeSubrange(0..<readIndex)
            readIndex = 0
        }
        buffer.append(contentsOf: bytes)
    }

    /// The body length announced by the prefix at `readIndex`, validating the flag and
    /// the limit; nil when fewer than 5 bytes are buffered.
    private func announcedLength() throws(DeframeError) -> Int? {
        guard buffer.count - readIndex >= GRPCFraming.prefixSize else { return nil }
        let flag = buffer[readIndex]
        switch flag {
        case 0: break
        case 1: throw .compressedWithoutEncoding
        default: throw .invalidFlag(flag)
        }
        let length = Int(buffer[readIndex + 1]) << 24 | Int(buffer[readIndex + 2]) << 16
            | Int(buffer[readIndex + 3]) << 8 | Int(buffer[readIndex + 4])
        if length > maxMessageSize { throw .messageTooLarge(size: length, limit: maxMessageSize) }
        return length
    }

    /// The next complete message, or nil when more bytes are needed. Throws as soon as a
    /// prefix announces a message above the limit or a bad flag (before the body arrives).
    package mutating func next() throws(DeframeError) -> [UInt8]? {
        guard let length = try announcedLength() else { return nil }
        let start = readIndex + GRPCFraming.prefixSize
        guard buffer.count - start >= length else { return nil }
        let message = Array(buffer[start..<(start + length)])
        readIndex = start + length
        if readIndex == buffer.count {
            buffer.removeAll(keepingCapacity: true)
            readIndex = 0
        }
        return message
    }

    /// True when buffered bytes do not form a complete message yet (a truncated prefix or
    /// body): at the end of the stream this means the peer stopped mid-message. False when
    /// nothing is buffered or a complete message is waiting for `next()`.
    package var hasPartialMessage: Bool {
        let available = buffer.count - readIndex
        if available == 0 { return false }
        if available < GRPCFraming.prefixSize { return true }
        let length = Int(buffer[readIndex + 1]) << 24 | Int(buffer[readIndex + 2]) << 16
            | Int(buffer[readIndex + 3]) << 8 | Int(buffer[readIndex + 4])
        return available - GRPCFraming.prefixSize < length
    }
}
