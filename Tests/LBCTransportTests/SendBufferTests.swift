import Glibc
import XCTest
@testable import LBCTransport

final class SendBufferTests: XCTestCase {
    private func framed(_ message: [UInt8]) -> [UInt8] {
        let n = message.count
        return [0, UInt8(n >> 24 & 0xFF), UInt8(n >> 16 & 0xFF), UInt8(n >> 8 & 0xFF), UInt8(n & 0xFF)] + message
    }

    /// Everything queued on `q`, written out.
    private func drain(_ q: inout WriteQueue) -> [UInt8] {
        var out: [UInt8] = []
        _ = q.write { vectors in
            var n = 0
            for v in vectors {
                out.append(contentsOf: UnsafeRawBufferPointer(start: v.iov_base, count: v.iov_len))
                n += v.iov_len
            }
            return n
        }
        return out
    }

    private func append(_ b: inout SendBuffer, _ message: [UInt8]) {
        message.withUnsafeBytes { b.append($0) }
    }

    func testTakesAcrossMessagesInFrameSizedPieces() {
        var b = SendBuffer(retaining: false)
        let m1 = [UInt8](repeating: 1, count: 10_000), m2 = [UInt8](repeating: 2, count: 3), m3 = [UInt8](repeating: 3, count: 40_000)
        append(&b, m1); append(&b, m2); append(&b, m3)
        let total = framed(m1) + framed(m2) + framed(m3)
        XCTAssertEqual(b.pending, total.count)
        var q = WriteQueue()
        var out: [UInt8] = []
        while b.pending > 0 {
            let n = b.available(upTo: 16_384)
            XCTAssertLessThanOrEqual(n, 16_384)
            b.take(n, into: &q)
            out += drain(&q)
        }
        XCTAssertEqual(out, total)
        XCTAssertEqual(b.heldBytes, 0, "taken chunks are dropped when not retaining")
    }

    func testSmallMessagesShareAnArrayUntilTaken() {
        var b = SendBuffer(retaining: false)
        for i in 0..<10 { append(&b, [UInt8(i)]) }
        var q = WriteQueue()
        b.take(b.available(upTo: 100), into: &q)
        XCTAssertEqual(q.segmentCount, 1)
        XCTAssertEqual(drain(&q), (0..<10).flatMap { framed([UInt8($0)]) })
    }

    func testRetainingRewindsToTheFirstByte() {
        var b = SendBuffer(retaining: true)
        let m1 = [UInt8](repeating: 7, count: 5000), m2 = [UInt8](repeating: 8, count: 7000)
        append(&b, m1); append(&b, m2)
        var q = WriteQueue()
        b.take(8000, into: &q)
        var first = drain(&q)
        b.rewind()
        XCTAssertEqual(b.pending, framed(m1).count + framed(m2).count)
        b.take(b.pending, into: &q)
        first = drain(&q)
        XCTAssertEqual(first, framed(m1) + framed(m2))
        b.stopRetaining()
        XCTAssertEqual(b.heldBytes, 0)
    }

    private func firstAddress(_ q: inout WriteQueue) -> UnsafeMutableRawPointer? {
        var address: UnsafeMutableRawPointer?
        _ = q.write { vectors in address = vectors.first?.iov_base; return nil }
        return address
    }

    func testQueuedBytesSurviveRemoveAll() {
        var b = SendBuffer(retaining: false)
        let big = [UInt8](repeating: 9, count: SendBuffer.reuseFrom * 2)
        append(&b, big)
        var q = WriteQueue()
        b.take(b.pending, into: &q)
        append(&b, [UInt8](repeating: 1, count: SendBuffer.reuseFrom * 2))
        b.removeAll()  // the call ended (cancelled) while its bytes wait for the socket
        XCTAssertEqual(drain(&q), framed(big))
    }

    func testLargeArrayIsReusedOnlyOnceWritten() {
        var b = SendBuffer(retaining: false)
        let big = [UInt8](repeating: 9, count: SendBuffer.reuseFrom * 2)
        let other = [UInt8](repeating: 4, count: SendBuffer.reuseFrom * 2)
        var q = WriteQueue()
        append(&b, big)
        b.take(b.pending, into: &q)
        let a1 = firstAddress(&q)
        XCTAssertEqual(drain(&q), framed(big))
        append(&b, other)
        b.take(b.pending, into: &q)
        XCTAssertEqual(firstAddress(&q), a1, "the written array serves the next message")
        // Not written yet: the next message gets a fresh array, the queued bytes stay.
        append(&b, big)
        b.take(b.pending, into: &q)
        XCTAssertEqual(drain(&q), framed(other) + framed(big))
    }

    func testCopyAndTakeInterleaveInOrder() {
        var b = SendBuffer(retaining: false)
        let m1 = [UInt8](repeating: 5, count: 100), m2 = (0..<9000).map { UInt8(truncatingIfNeeded: $0) }
        append(&b, m1); append(&b, m2)
        var out = [UInt8](repeating: 0, count: 50)
        out.withUnsafeMutableBytes { b.copy(50, into: $0.baseAddress!) }
        var q = WriteQueue()
        b.take(5000, into: &q)
        var rest = [UInt8](repeating: 0, count: b.pending)
        rest.withUnsafeMutableBytes { b.copy($0.count, into: $0.baseAddress!) }
        XCTAssertEqual(out + drain(&q) + rest, framed(m1) + framed(m2))
        XCTAssertEqual(b.pending, 0)
        XCTAssertEqual(b.heldBytes, 0)
    }
}
