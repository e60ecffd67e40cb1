/// A whole request frame handed to nghttp2 piece by piece without copying (unary and
/// internal calls, whose request is one gRPC frame built before the stream opens).
/// The frame array is immutable, so the write queue may borrow its bytes.
enum RequestFrameReader {
    /// How many bytes of `frame` from `offset` on nghttp2 may send (at most `length`):
    /// sets NO_COPY, and EOF when they are the last ones.
    @inline(__always)
    static func available(_ frame: [UInt8], offset: Int, length: Int, flags: UnsafeMutablePointer<UInt32>) -> Int {
        let n = min(frame.count - offset, length)
        if n > 0 { flags.pointee |= NGHTTP2DataFlags.noCopy }
        if offset + n == frame.count { flags.pointee |= NGHTTP2DataFlags.eof }
        return n
    }

    /// Queue `count` bytes of `frame` from `offset` on (borrowed) and advance `offset`.
    @inline(__always)
    static func take(_ frame: [UInt8], offset: inout Int, count: Int, into queue: inout WriteQueue) {
        guard count > 0 else { return }
        let start = offset
        frame.withUnsafeBytes { raw in
            queue.append(borrowing: UnsafeRawBufferPointer(rebasing: raw[start..<(start + count)]), keeper: frame)
        }
        offset += count
    }
}
