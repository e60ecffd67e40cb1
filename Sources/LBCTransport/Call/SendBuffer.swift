import LBCCore

/// The request bytes of a streaming call that nghttp2 has not taken yet, as framed gRPC
/// messages in the order sent (I/O-free; the call guards it with its lock).
///
/// Each message is copied once, from the caller's buffer into an array (small ones
/// are appended to the last array while nghttp2 has not started on it); nghttp2 then
/// takes the bytes without a copy: ``take(_:into:)`` queues them on the connection's
/// ``WriteQueue`` as borrowed segments, which keep the array alive until written.
/// An array nghttp2 is done with may serve the next large message
/// (`removeAll(keepingCapacity:)` reuses it once the write queue has let go; until
/// then copy-on-write gives the message a fresh one), so a stream of large messages
/// does not map fresh pages for every one.
///
/// While `retaining`, every byte sent stays from the first one on, so the request can
/// be sent again (``rewind()``: a retry).
///
/// ```swift
/// var buffer = SendBuffer(retaining: false)
/// buffer.append(message)                    // caller's thread, lock held
/// let n = buffer.available(upTo: 16384)     // nghttp2's read callback
/// buffer.take(n, into: &writeQueue)         // its send_data callback
/// ```
struct SendBuffer {
    /// Messages up to this size share an array.
    static let batchBytes = 4096
    /// Arrays at least this large are kept for reuse once taken.
    static let reuseFrom = 64 * 1024

    private var chunks: [[UInt8]] = []
    /// The chunk nghttp2 takes from next, and the offset in it.
    private var index = 0
    private var offset = 0
    /// Bytes not taken yet.
    private(set) var pending = 0
    /// Bytes held (taken ones included while retaining).
    private(set) var heldBytes = 0
    /// A large array nghttp2 has taken completely, for the next large message.
    private var spare: [UInt8] = []
    /// Keep everything sent for a retry.
    var retaining: Bool

    init(retaining: Bool) { self.retaining = retaining }

    /// Append `message` with its gRPC prefix (the one copy of its bytes).
    mutating func append(_ message: UnsafeRawBufferPointer) {
        let wire = message.count + GRPCFraming.prefixSize
        pending += wire
        heldBytes += wire
        if wire <= Self.batchBytes, let last = chunks.indices.last, last > index || (last == index && offset == 0),
           chunks[last].count + wire <= Self.batchBytes {
            GRPCFraming.appendFrame(message, to: &chunks[last])  // nghttp2 has not started on it: unique
            return
        }
        var chunk: [UInt8] = []
        if wire >= Self.reuseFrom && spare.capacity >= wire {
            chunk = spare
            spare = []
            chunk.removeAll(keepingCapacity: true)  // in place once the write queue let go
        }
        GRPCFraming.appendFrame(message, to: &chunk)
        chunks.append(chunk)
    }

    /// How many bytes nghttp2 may take now, at most `limit`.
    func available(upTo limit: Int) -> Int { min(pending, limit) }

    /// Queue the next `count` bytes (at most `pending`) on `queue` without copying them.
    mutating func take(_ count: Int, into queue: inout WriteQueue) {
        precondition(count <= pending, "nghttp2 took more than was available")
        var left = count
        pending -= count
        while left > 0 {
            let chunk = chunks[index]
            let n = min(chunk.count - offset, left)
            chunk.withUnsafeBytes { raw in
                queue.append(borrowing: UnsafeRawBufferPointer(rebasing: raw[offset..<(offset + n)]), keeper: chunk)
            }
            left -= n
            offset += n
            if offset == chunk.count {
                index += 1
                offset = 0
                if !retaining { dropTaken() }
            }
        }
    }

    /// Copy the next `count` bytes (at most `pending`) to `destination` and consume
    /// them (small DATA payloads, which nghttp2 frames in its own buffer).
    mutating func copy(_ count: Int, into destination: UnsafeMutableRawPointer) {
        precondition(count <= pending, "nghttp2 took more than was available")
        var left = count
        var out = destination
        pending -= count
        while left > 0 {
            let n = min(chunks[index].count - offset, left)
            let start = offset
            chunks[index].withUnsafeBytes { raw in out.copyMemory(from: raw.baseAddress! + start, byteCount: n) }
            out += n
            left -= n
            offset += n
            if offset == chunks[index].count {
                index += 1
                offset = 0
                if !retaining { dropTaken() }
            }
        }
    }

    /// Forget the taken chunks (not retaining), keeping one large array for reuse.
    private mutating func dropTaken() {
        guard index > 0 else { return }
        if chunks[index - 1].capacity >= Self.reuseFrom && chunks[index - 1].capacity > spare.capacity {
            spare = chunks[index - 1]
        }
        for i in 0..<index { heldBytes -= chunks[i].count }
        if index == chunks.count {
            chunks.removeAll(keepingCapacity: chunks.capacity <= 64)
        } else {
            chunks.removeSubrange(0..<index)
        }
        index = 0
    }

    /// Stop retaining: drop what was taken already (the call committed).
    mutating func stopRetaining() {
        guard retaining else { return }
        retaining = false
        dropTaken()
    }

    /// Start over from the first byte (a retry; only while retaining).
    mutating func rewind() {
        index = 0
        offset = 0
        pending = heldBytes
    }

    /// Drop everything (the call ended or was freed); queued writes keep their bytes.
    mutating func removeAll() {
        chunks = []
        spare = []
        index = 0
        offset = 0
        pending = 0
        heldBytes = 0
    }
}
