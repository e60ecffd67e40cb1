/// A whole request frame handed to nghttp2 piece by piece without copying (unary and
/// internal calls, whose request is one gRPC frame built before the stream opens).
/// The frame array is immutable, so the write queue may borrow its bytes.
enum RequestFrameReader {
    /// The next bytes of `frame` from `offset` on (at most `length`), EOF set with
    /// the last ones: fewer than ``WriteQueue/copyBelow`` are copied into `buffer` and
    /// `offset` advances; more are announced with NO_COPY for ``take``.
    @inline(__always)
    static func read(_ frame: [UInt8], offset: inout Int, into buffer: UnsafeMutablePointer<UInt8>,
                     length: Int, flags: UnsafeMutablePointer<UInt32>) -> Int {
        let n = min(frame.count - offset, length)
        if offset + n == frame.count { flags.pointee |= NGHTTP2DataFlags.eof }
        if n >= WriteQueue.copyBelow {
            flags.pointee |= NGHTTP2DataFlags.noCopy
        } else if n > 0 {
            let start = offset
            frame.withUnsafeBytes { raw in
                buffer.update(from: raw.baseAddress!.assumingMemoryBound(to: UInt8.self) + start, count: n)
            }
            offset += n
        }
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
