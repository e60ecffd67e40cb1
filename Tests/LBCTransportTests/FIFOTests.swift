import XCTest
@testable import LBCTransport

final class FIFOTests: XCTestCase {
    func testElementsComeOutInOrderAcrossPopsAndBatches() {
        var q = FIFO<Int>()
        XCTAssertNil(q.popFirst())
        for i in 0..<10 { q.append(i) }
        XCTAssertEqual(q.popFirst(), 0)
        var batch: [Int] = []
        XCTAssertEqual(q.moveFirst(4, into: &batch), 4)
        XCTAssertEqual(batch, [1, 2, 3, 4])
        q.append(10)
        XCTAssertEqual(q.count, 6)
        XCTAssertEqual(q.moveFirst(100, into: &batch), 6)
        XCTAssertEqual(batch, Array(1...10))
        XCTAssertTrue(q.isEmpty)
        XCTAssertEqual(q.moveFirst(5, into: &batch), 0)
    }

    func testTakenElementsAreReleasedAtOnceAndStorageFollowsWhatIsQueued() {
        final class Box {}
        var boxes = FIFO<Box>()
        weak var taken: Box?
        do {
            let box = Box()
            taken = box
            boxes.append(box)
            boxes.append(Box())
        }
        XCTAssertNotNil(boxes.popFirst())
        XCTAssertNil(taken, "a taken element is still held by the queue")
        // Never empty (one in, one out): every element must still come out in order.
        var q = FIFO<Int>()
        q.append(0)
        for i in 1...10_000 {
            q.append(i)
            XCTAssertEqual(q.popFirst(), i - 1)
        }
        XCTAssertEqual(q.count, 1)
        var batch: [Int] = []
        q.moveFirst(1, into: &batch)
        XCTAssertEqual(batch, [10_000])
    }
}
