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
    /// Everything else, allocated at the first byte: a call whose messages all
    /// arrive whole never touches the deframer, and the state it is part of stays
    /// small (it is copied by value on the per-call path).
    private var storage: Storage?

    /// The parsing state (copied on write).
    private final class Storage: @unchecked Sendable {
        /// The prefix being read (up to 5 bytes).
        var prefix: [UInt8] = []
        /// The body being assembled, once its prefix is complete (capacity: its length).
        var body: [UInt8] = []
        /// Its announced length; -1 while the prefix is incomplete.
        var bodyLength = -1
        /// Complete messages `next()` has not returned yet.
        var ready: [[UInt8]] = []
        var readyIndex = 0
        /// Wire bytes (prefix included) of the messages in `ready`.
        var readyBytes = 0
        /// The error at the first bad prefix, thrown by `next()` after the messages before it.
        var failure: DeframeError?
        /// Arrays given back for reuse (``donate(_:)``), at most ``maxSpares``.
        var spare: [[UInt8]] = []

        func copy() -> Storage {
            let c = Storage()
            (c.prefix, c.body, c.bodyLength, c.ready, c.readyIndex, c.readyBytes, c.failure, c.spare) =
                (prefix, body, bodyLength, ready, readyIndex, readyBytes, failure, spare)
            return c
        }
    }

    /// Creates a deframer that rejects messages larger than `maxMessageSize` bytes.
    package init(maxMessageSize: Int) {
        self.maxMessageSize = max(0, maxMessageSize)
    }

    /// The storage, unique to this value.
    private mutating func state() -> Storage {
        if let s = storage, isKnownUniquelyReferenced(&storage!) { return s }
        let s = storage?.copy() ?? Storage()
        storage = s
        return s
    }

    /// Bytes buffered and not yet returned by `next()`.
    package var bufferedByteCount: Int {
        guard let s = storage else { return 0 }
        return s.readyBytes + s.prefix.count + (s.bodyLength >= 0 ? GRPCFraming.prefixSize + s.body.count - s.prefix.count : 0)
    }

    /// Bytes held in the internal buffers (for tests).
    var storageByteCount: Int {
        guard let s = storage else { return 0 }
        return s.prefix.count + s.body.capacity + s.readyBytes
    }

    /// The most arrays kept for reuse (a few messages in flight at a time).
    package static let maxSpares = 4

    /// Give back an array of a delivered message (its contents no longer matter): a
    /// later message that fits reuses it instead of allocating (up to ``maxSpares``).
    package mutating func donate(_ buffer: [UInt8]) {
        let s = state()
        if s.spare.count < Self.maxSpares { s.spare.append(buffer) }
    }

    /// Takes `bytes` (copied: each body byte once, into its message's array).
    package mutating func append(_ bytes: UnsafeRawBufferPointer) {
        guard var p = bytes.baseAddress, bytes.count > 0 else { return }
        let s = state()
        guard s.failure == nil else { return }
        var left = bytes.count
        while left > 0 {
            if s.bodyLength < 0 {
                let n = min(GRPCFraming.prefixSize - s.prefix.count, left)
                s.prefix.append(contentsOf: UnsafeRawBufferPointer(start: p, count: n))
                p += n
                left -= n
                guard s.prefix.count == GRPCFraming.prefixSize else { return }
                do throws(DeframeError) {
                    try startBody(s)
                } catch {
                    s.failure = error
                    return
                }
            }
            let n = min(s.bodyLength - s.body.count, left)
            if n > 0 {
                s.body.append(contentsOf: UnsafeBufferPointer(start: p.assumingMemoryBound(to: UInt8.self), count: n))
                p += n
                left -= n
            }
            if s.body.count == s.bodyLength { finishBody(s) }
        }
    }

    /// The prefix is complete: check it and make room for the body.
    private func startBody(_ s: Storage) throws(DeframeError) {
        let flag = s.prefix[0]
        switch flag {
        case 0: break
        case 1: throw .compressedWithoutEncoding
        default: throw .invalidFlag(flag)
        }
        let length = Int(s.prefix[1]) << 24 | Int(s.prefix[2]) << 16 | Int(s.prefix[3]) << 8 | Int(s.prefix[4])
        if length > maxMessageSize { throw .messageTooLarge(size: length, limit: maxMessageSize) }
        s.bodyLength = length
        if length > 0, let i = s.spare.firstIndex(where: { $0.capacity >= length && length * 2 > $0.capacity }) {
            s.body = s.spare.remove(at: i)
            s.body.removeAll(keepingCapacity: true)  // in place: the application let go of it
        } else {
            s.body = []
            s.body.reserveCapacity(length)
        }
    }

    private func finishBody(_ s: Storage) {
        s.readyBytes += GRPCFraming.prefixSize + s.bodyLength
        s.ready.append(s.body)
        s.body = []
        s.bodyLength = -1
        s.prefix.removeAll(keepingCapacity: true)
    }

    /// The next complete message, or nil when more bytes are needed. Throws as soon as a
    /// prefix announces a message above the limit or a bad flag (before the body arrives),
    /// once the complete messages before it were returned.
    package mutating func next() throws(DeframeError) -> [UInt8]? {
        guard storage != nil else { return nil }
        let s = state()
        if s.readyIndex < s.ready.count {
            let message = s.ready[s.readyIndex]
            s.ready[s.readyIndex] = []
            s.readyIndex += 1
            s.readyBytes -= GRPCFraming.prefixSize + message.count
            if s.readyIndex == s.ready.count {
                s.ready.removeAll(keepingCapacity: true)
                s.readyIndex = 0
            }
            return message
        }
        if let failure = s.failure { throw failure }
        return nil
    }

    /// True when buffered bytes do not form a complete message yet (a truncated prefix or
    /// body): at the end of the stream this means the peer stopped mid-message. False when
    /// nothing is buffered or a complete message is waiting for `next()`.
    package var hasPartialMessage: Bool {
        guard let s = storage else { return false }
        return !s.prefix.isEmpty || s.bodyLength >= 0
    }
}
