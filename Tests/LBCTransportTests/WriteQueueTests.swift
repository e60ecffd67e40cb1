import Glibc
import XCTest
@testable import LBCTransport

final class WriteQueueTests: XCTestCase {
    /// A writer that takes at most `limits[i]` bytes on its i-th call (nil: would
    /// block), recording every byte it took and the iovec counts it was given.
    private final class Sink {
        var limits: [Int?]
        var taken: [UInt8] = []
        var vectorCounts: [Int] = []
        init(_ limits: [Int?]) { self.limits = limits }

        func write(_ vectors: UnsafeBufferPointer<iovec>) -> Int? {
            vectorCounts.append(vectors.count)
            let limit = limits.isEmpty ? Int.max : limits.removeFirst()
            guard let limit else { return nil }
            var n = 0
            for v in vectors where n < limit {
                let k = min(v.iov_len, limit - n)
                taken.append(contentsOf: UnsafeRawBufferPointer(start: v.iov_base, count: k))
                n += k
            }
            return n
        }
    }

    private func bytes(_ count: Int, from start: Int) -> [UInt8] {
        (0..<count).map { UInt8(truncatingIfNeeded: start + $0 * 7) }
    }

    func testCopiedBytesMergeIntoOneVector() {
        var q = WriteQueue()
        let a = bytes(10, from: 0), b = bytes(20, from: 3)
        a.withUnsafeBytes { q.append(copying: $0) }
        b.withUnsafeBytes { q.append(copying: $0) }
        XCTAssertEqual(q.segmentCount, 1)
        let sink = Sink([])
        XCTAssertTrue(q.write(sink.write))
        XCTAssertEqual(sink.taken, a + b)
        XCTAssertEqual(sink.vectorCounts, [1])
        XCTAssertTrue(q.isEmpty)
    }

    func testSmallBorrowedPayloadIsCopied() {
        var q = WriteQueue()
        var small = bytes(WriteQueue.copyBelow - 1, from: 1)
        small.withUnsafeBytes { q.append(borrowing: $0, keeper: small) }
        XCTAssertEqual(q.segmentCount, 1)
        XCTAssertTrue(mutatesInPlace(&small), "a copied payload keeps no reference")
        var big = bytes(WriteQueue.copyBelow, from: 1)
        big.withUnsafeBytes { q.append(borrowing: $0, keeper: big) }
        XCTAssertEqual(q.segmentCount, 2)
        XCTAssertFalse(mutatesInPlace(&big), "a borrowed payload is held by the queue")
    }

    func testPartialWritesEndingInsideSegmentsKeepOrder() {
        var q = WriteQueue()
        let header = bytes(9, from: 100)
        let payload = bytes(50_000, from: 5)
        let tail = bytes(30, from: 9)
        header.withUnsafeBytes { q.append(copying: $0) }
        payload.withUnsafeBytes { q.append(borrowing: $0, keeper: payload) }
        tail.withUnsafeBytes { q.append(copying: $0) }
        XCTAssertEqual(q.segmentCount, 3)
        XCTAssertEqual(q.byteCount, 9 + 50_000 + 30)
        // 4 bytes (inside the header), EAGAIN, 10 (across header and payload), then
        // 50,020 (ends inside the tail), then the rest.
        let sink = Sink([4, nil])
        XCTAssertFalse(q.write(sink.write))
        XCTAssertEqual(q.byteCount, 9 + 50_000 + 30 - 4)
        sink.limits = [10, 50_020, 0]
        XCTAssertFalse(q.write(sink.write), "a writer that takes 0 bytes stops the write")
        XCTAssertEqual(q.byteCount, 5)
        sink.limits = []
        XCTAssertTrue(q.write(sink.write))
        XCTAssertEqual(sink.taken, header + payload + tail)
        XCTAssertTrue(q.isEmpty)
    }

    func testBorrowingAfterAPartialWriteOfCopiedBytesKeepsOrder() {
        var q = WriteQueue()
        let a = bytes(100, from: 1), big = bytes(5000, from: 2), c = bytes(10, from: 3)
        a.withUnsafeBytes { q.append(copying: $0) }
        let sink = Sink([30, nil])
        XCTAssertFalse(q.write(sink.write))
        big.withUnsafeBytes { q.append(borrowing: $0, keeper: big) }
        c.withUnsafeBytes { q.append(copying: $0) }
        XCTAssertEqual(q.segmentCount, 3)
        sink.limits = []
        XCTAssertTrue(q.write(sink.write))
        XCTAssertEqual(sink.taken, a + big + c)
        // Empty again: copied bytes go without segments.
        a.withUnsafeBytes { q.append(copying: $0) }
        XCTAssertTrue(q.write(sink.write))
        XCTAssertEqual(sink.taken, a + big + c + a)
    }

    func testBorrowedBytesStayAliveUntilWrittenAndAreReleasedAfter() {
        var q = WriteQueue()
        var message: [UInt8]? = bytes(100_000, from: 3)
        let expected = message!
        message!.withUnsafeBytes { q.append(borrowing: $0, keeper: message!) }
        message = nil  // the call let go (ended, cancelled): the queue keeps the bytes
        let sink = Sink([1000, nil])
        XCTAssertFalse(q.write(sink.write))
        sink.limits = []
        XCTAssertTrue(q.write(sink.write))
        XCTAssertEqual(sink.taken, expected)
    }

    func testWrittenKeeperIsReleasedAtOnce() {
        var q = WriteQueue()
        var first = bytes(10_000, from: 1)
        var second = bytes(10_000, from: 2)
        first.withUnsafeBytes { q.append(borrowing: $0, keeper: first) }
        second.withUnsafeBytes { q.append(borrowing: $0, keeper: second) }
        let sink = Sink([10_000, nil])
        XCTAssertFalse(q.write(sink.write))
        // The first array is written: appending to it now mutates it in place.
        XCTAssertTrue(mutatesInPlace(&first))
        XCTAssertEqual(q.byteCount, 10_000)
        XCTAssertFalse(mutatesInPlace(&second), "not written yet: still held")
    }

    func testAtMostMaxVectorsPerWrite() {
        var q = WriteQueue()
        let payload = bytes(4096, from: 0)
        let header = bytes(9, from: 1)
        for _ in 0..<100 {
            header.withUnsafeBytes { q.append(copying: $0) }
            payload.withUnsafeBytes { q.append(borrowing: $0, keeper: payload) }
        }
        XCTAssertEqual(q.segmentCount, 200)
        let sink = Sink([])
        XCTAssertTrue(q.write(sink.write))
        XCTAssertEqual(sink.vectorCounts, [WriteQueue.maxVectors, WriteQueue.maxVectors, WriteQueue.maxVectors, 200 - 3 * WriteQueue.maxVectors])
        XCTAssertEqual(sink.taken, Array((0..<100).map { _ in header + payload }.joined()))
    }

    func testShrinkGivesBackLargeStagingWhenEmpty() {
        var q = WriteQueue()
        let big = bytes(100_000, from: 0)
        big.withUnsafeBytes { q.append(copying: $0) }
        q.shrink()
        XCTAssertGreaterThan(q.stagingCapacity, WriteQueue.keptStagingCapacity, "not while bytes are queued")
        XCTAssertTrue(q.write(Sink([]).write))
        q.shrink()
        XCTAssertLessThanOrEqual(q.stagingCapacity, WriteQueue.keptStagingCapacity)
    }

    func testRemoveAllDropsEverything() {
        var q = WriteQueue()
        var payload = bytes(5000, from: 0)
        payload.withUnsafeBytes { q.append(borrowing: $0, keeper: payload) }
        q.removeAll()
        XCTAssertTrue(q.isEmpty)
        XCTAssertTrue(mutatesInPlace(&payload))
    }

    /// True when `a` could be mutated in place: nothing else holds its storage.
    private func mutatesInPlace(_ a: inout [UInt8]) -> Bool {
        let before = a.withUnsafeBytes { $0.baseAddress }
        a[0] &+= 1
        return a.withUnsafeBytes { $0.baseAddress } == before
    }
}
