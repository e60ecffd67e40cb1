/// A whole request frame handed to nghttp2 piece by piece (unary and internal calls,
/// whose request is one gRPC frame built before the stream opens).
enum RequestFrameReader {
    /// Copy up to `length` bytes of `frame` from `offset` on into `buffer`, advance
    /// `offset`, and set EOF in `flags` once the last byte went. Returns the count.
    @inline(__always)
    static func read(_ frame: [UInt8], offset: inout Int, into buffer: UnsafeMutablePointer<UInt8>,
                     length: Int, flags: UnsafeMutablePointer<UInt32>) -> Int {
        let n = min(frame.count - offset, length)
        if n > 0 {
            let start = offset
            frame.withUnsafeBytes { raw in
                buffer.update(from: raw.baseAddress!.assumingMemoryBound(to: UInt8.self) + start, count: n)
            }
            offset += n
        }
        if offset == frame.count { flags.pointee |= NGHTTP2DataFlags.eof }
        return n
    }
}
