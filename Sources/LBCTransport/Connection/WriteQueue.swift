import Glibc

/// The bytes a connection has for the socket, in the order nghttp2 produced them, and
/// the plan of each write (I/O-free: the writer is a closure).
///
/// Two kinds of segment: bytes nghttp2 serialized itself (frame headers, HEADERS,
/// SETTINGS, WINDOW_UPDATE...), which live in its buffer only until its next call and
/// are copied into `staging`; and request message bytes sent without a copy (DATA
/// payloads under `NGHTTP2_DATA_FLAG_NO_COPY`), which stay where the call keeps them.
/// A borrowed segment holds the array that owns its bytes, so they stay alive until
/// the socket has taken them even when the call ends, is cancelled or retried
/// meanwhile; it lets go of the array as soon as its last byte is written. Payloads
/// shorter than ``copyBelow`` are copied instead, so the small frames of many calls
/// still leave in one contiguous run.
///
/// `write` hands the front of the queue to the writer as at most ``maxVectors``
/// iovecs, drops what the writer took (a partial write may end inside a segment) and
/// goes on until the queue is empty or the writer takes nothing.
///
/// ```swift
/// var q = WriteQueue()
/// q.append(copying: frameHeader)
/// q.append(borrowing: payload, keeper: messageArray)
/// let empty = q.write { iov in socket.sendmsg(iov) }   // nil: would block
/// ```
package struct WriteQueue {
    private enum Segment {
        /// `count` bytes of `staging` from `start`.
        case copied(start: Int, count: Int)
        /// Bytes inside `keeper`'s storage.
        case borrowed(UnsafeRawPointer, count: Int, keeper: [UInt8])
    }

    /// Borrowed payloads shorter than this are copied into `staging`.
    package static let copyBelow = 2048
    /// The most iovecs handed to one write.
    package static let maxVectors = 64
    /// The `staging` capacity an idle connection keeps (see ``shrink()``).
    package static let keptStagingCapacity = 16 * 1024

    /// The segments, once one is borrowed; while `segments` is empty the queue is
    /// `staging[stagingWritten...]` alone (the common case of small frames: no
    /// segment bookkeeping at all).
    private var segments: [Segment] = []
    /// The first segment not written completely.
    private var head = 0
    /// Bytes of `segments[head]` already written.
    private var headWritten = 0
    private var staging: [UInt8] = []
    /// Bytes of `staging` written while `segments` is empty.
    private var stagingWritten = 0
    /// Bytes queued and not yet written.
    package private(set) var byteCount = 0

    package init() {}

    package var isEmpty: Bool { byteCount == 0 }

    /// Segments queued and not written completely (for tests).
    package var segmentCount: Int { segments.isEmpty ? (byteCount > 0 ? 1 : 0) : segments.count - head }

    /// The capacity held for copied bytes (for tests and the idle footprint).
    package var stagingCapacity: Int { staging.capacity }

    /// Queue a copy of `bytes`.
    package mutating func append(copying bytes: UnsafeRawBufferPointer) {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return }
        let start = staging.count
        staging.append(contentsOf: UnsafeBufferPointer(start: base.assumingMemoryBound(to: UInt8.self), count: bytes.count))
        byteCount += bytes.count
        if segments.isEmpty { return }
        if case .copied(let s, let c) = segments[segments.count - 1], s + c == start {
            segments[segments.count - 1] = .copied(start: s, count: c + bytes.count)
        } else {
            segments.append(.copied(start: start, count: bytes.count))
        }
    }

    /// Queue `bytes`, which lie inside `keeper`'s storage, without copying them
    /// (unless they are fewer than ``copyBelow``). `keeper` must not be mutated
    /// through another reference while queued (copy-on-write guarantees it).
    package mutating func append(borrowing bytes: UnsafeRawBufferPointer, keeper: [UInt8]) {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return }
        if bytes.count < Self.copyBelow {
            append(copying: bytes)
            return
        }
        if segments.isEmpty && byteCount > 0 {
            // The copied bytes so far become the first segment.
            segments.append(.copied(start: stagingWritten, count: staging.count - stagingWritten))
            headWritten = 0
        }
        segments.append(.borrowed(base, count: bytes.count, keeper: keeper))
        byteCount += bytes.count
    }

    /// Write from the front: `writer` gets at most ``maxVectors`` iovecs and returns
    /// how many bytes it took (any count, a partial write included) or nil when it
    /// took nothing (the socket is full, or it failed: the writer keeps its error).
    /// Repeats until the queue is empty (true) or the writer returns nil or 0 (false).
    package mutating func write(_ writer: (UnsafeBufferPointer<iovec>) -> Int?) -> Bool {
        while byteCount > 0 {
            let taken = withFront(writer)
            guard let taken, taken > 0 else { return false }
            consume(taken)
        }
        return true
    }

    private func withFront(_ writer: (UnsafeBufferPointer<iovec>) -> Int?) -> Int? {
        if segments.isEmpty {
            return staging.withUnsafeBytes { stage in
                var v = iovec(iov_base: UnsafeMutableRawPointer(mutating: stage.baseAddress! + stagingWritten),
                              iov_len: staging.count - stagingWritten)
                return withUnsafePointer(to: &v) { writer(UnsafeBufferPointer(start: $0, count: 1)) }
            }
        }
        return staging.withUnsafeBytes { stage in
            withUnsafeTemporaryAllocation(of: iovec.self, capacity: Self.maxVectors) { iov in
                var n = 0
                var i = head
                var skip = headWritten
                while i < segments.count && n < Self.maxVectors {
                    let base: UnsafeRawPointer, count: Int
                    switch segments[i] {
                    case .copied(let start, let c): (base, count) = (stage.baseAddress! + start, c)
                    case .borrowed(let p, let c, _): (base, count) = (p, c)
                    }
                    iov[n] = iovec(iov_base: UnsafeMutableRawPointer(mutating: base + skip), iov_len: count - skip)
                    skip = 0
                    n += 1
                    i += 1
                }
                return writer(UnsafeBufferPointer(rebasing: iov[..<n]))
            }
        }
    }

    /// Drop the first `count` bytes (the writer took them).
    private mutating func consume(_ count: Int) {
        precondition(count <= byteCount, "the writer took more bytes than it was given")
        byteCount -= count
        if segments.isEmpty {
            stagingWritten += count
            if byteCount == 0 {
                staging.removeAll(keepingCapacity: true)
                stagingWritten = 0
            }
            return
        }
        var left = count
        while left > 0 {
            let size: Int
            switch segments[head] {
            case .copied(_, let c): size = c
            case .borrowed(_, let c, _): size = c
            }
            let rest = size - headWritten
            if left < rest {
                headWritten += left
                return
            }
            left -= rest
            segments[head] = .copied(start: 0, count: 0)  // lets go of a borrowed keeper now
            head += 1
            headWritten = 0
        }
        if byteCount == 0 {
            segments.removeAll(keepingCapacity: true)
            staging.removeAll(keepingCapacity: true)
            head = 0
            stagingWritten = 0
        }
    }

    /// Give back storage that large bursts grew, when nothing is queued (an idle
    /// connection returns to its idle footprint).
    package mutating func shrink() {
        guard byteCount == 0 else { return }
        if staging.capacity > Self.keptStagingCapacity { staging = [] }
        if segments.capacity > 16 { segments = [] }  // only large bursts use segments
    }

    /// Drop everything (the connection closed): borrowed arrays are released.
    package mutating func removeAll() {
        segments = []
        staging = []
        head = 0
        headWritten = 0
        stagingWritten = 0
        byteCount = 0
    }
}
