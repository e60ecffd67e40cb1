/// Incremental parser of length-prefixed gRPC messages from HTTP/2 DATA chunks of any size.
///
/// ```swift
/// var deframer = GRPCMessageDeframer(maxMessageSize: 4 << 20)
/// deframer.append(chunk)                       // from each DATA frame
/// while let message = try deframer.next() { deliver(message) }
/// // at END_STREAM: deframer.hasPartialMessage → INTERNAL "stream ended mid-message"
/// ```
///
/// Each message body is copied once, from the chunks straight into an array of its
/// exact size (allocated when its prefix arrives), which `next()` hands over without
/// copying again. A large array the application is done with can be given back with
/// ``donate(_:)`` and serves the next message of a size it can hold.
///
/// After `next()` throws, the deframer stays failed: later calls throw the same error.
package struct GRPCMessageDeframer: Sendable {
    /// Largest accepted message body in bytes.
    package let maxMessageSize: Int
    /// The prefix being read (up to 5 bytes).
    private var prefix: [UInt8] = []
    /// The body being assembled, once its prefix is complete (capacity: its length).
    private var body: [UInt8] = []
    /// Its announced length; -1 while the prefix is incomplete.
    private var bodyLength = -1
    /// Complete messages `next()` has not returned yet.
    private var ready: [[UInt8]] = []
    private var readyIndex = 0
    /// Wire bytes (prefix included) of the messages in `ready`.
    private var readyBytes = 0
    /// The error at the first bad prefix, thrown by `next()` after the messages before it.
    private var failure: DeframeError?
    /// An array given back for reuse (``donate(_:)``).
    private var spare: [UInt8] = []

    /// Creates a deframer that rejects messages larger than `maxMessageSize` bytes.
    package init(maxMessageSize: Int) {
        self.maxMessageSize = max(0, maxMessageSize)
    }

    /// Bytes buffered and not yet returned by `next()`.
    package var bufferedByteCount: Int {
        readyBytes + prefix.count + (bodyLength >= 0 ? GRPCFraming.prefixSize + body.count - prefix.count : 0)
    }

    /// Bytes held in the internal buffers (for tests).
    var storageByteCount: Int { prefix.count + body.capacity + readyBytes }

    /// Give back an array of a delivered message (its contents no longer matter): the
    /// next message that fits reuses it instead of allocating.
    package mutating func donate(_ buffer: [UInt8]) {
        if buffer.capacity > spare.capacity { spare = buffer }
    }

    /// Takes `bytes` (copied: each body byte once, into its message's array).
    package mutating func append(_ bytes: UnsafeRawBufferPointer) {
        guard failure == nil, var p = bytes.baseAddress else { return }
        var left = bytes.count
        while left > 0 {
            if bodyLength < 0 {
                let n = min(GRPCFraming.prefixSize - prefix.count, left)
                prefix.append(contentsOf: UnsafeRawBufferPointer(start: p, count: n))
                p += n
                left -= n
                guard prefix.count == GRPCFraming.prefixSize else { return }
                do throws(DeframeError) {
                    try startBody()
                } catch {
                    failure = error
                    return
                }
            }
            let n = min(bodyLength - body.count, left)
            if n > 0 {
                body.append(contentsOf: UnsafeBufferPointer(start: p.assumingMemoryBound(to: UInt8.self), count: n))
                p += n
                left -= n
            }
            if body.count == bodyLength { finishBody() }
        }
    }

    /// The prefix is complete: check it and make room for the body.
    private mutating func startBody() throws(DeframeError) {
        let flag = prefix[0]
        switch flag {
        case 0: break
        case 1: throw .compressedWithoutEncoding
        default: throw .invalidFlag(flag)
        }
        let length = Int(prefix[1]) << 24 | Int(prefix[2]) << 16 | Int(prefix[3]) << 8 | Int(prefix[4])
        if length > maxMessageSize { throw .messageTooLarge(size: length, limit: maxMessageSize) }
        bodyLength = length
        if length > 0 && spare.capacity >= length && length * 2 > spare.capacity {
            body = spare
            spare = []
            body.removeAll(keepingCapacity: true)  // in place: the application let go of it
        } else {
            body = []
            body.reserveCapacity(length)
        }
    }

    private mutating func finishBody() {
        readyBytes += GRPCFraming.prefixSize + bodyLength
        ready.append(body)
        body = []
        bodyLength = -1
        prefix.removeAll(keepingCapacity: true)
    }

    /// The next complete message, or nil when more bytes are needed. Throws as soon as a
    /// prefix announces a message above the limit or a bad flag (before the body arrives),
    /// once the complete messages before it were returned.
    package mutating func next() throws(DeframeError) -> [UInt8]? {
        if readyIndex < ready.count {
            let message = ready[readyIndex]
            ready[readyIndex] = []
            readyIndex += 1
            readyBytes -= GRPCFraming.prefixSize + message.count
            if readyIndex == ready.count {
                ready.removeAll(keepingCapacity: true)
                readyIndex = 0
            }
            return message
        }
        if let failure { throw failure }
        return nil
    }

    /// True when buffered bytes do not form a complete message yet (a truncated prefix or
    /// body): at the end of the stream this means the peer stopped mid-message. False when
    /// nothing is buffered or a complete message is waiting for `next()`.
    package var hasPartialMessage: Bool {
        !prefix.isEmpty || bodyLength >= 0
    }
}
