import Glibc
import XCTest
@testable import LBCTransport

final class CompletionQueueTests: XCTestCase {
    private final class Item {
        let id: Int
        init(_ id: Int) { self.id = id }
    }

    private func isReadable(_ fd: Int32) -> Bool {
        var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        return poll(&pfd, 1, 0) == 1
    }

    func testFdIsReadableExactlyWhileItemsArePending() throws {
        let queue = try CompletionQueue()
        XCTAssertFalse(isReadable(queue.fd))
        queue.post(Item(1))
        queue.post(Item(2))
        queue.post(Item(3))
        XCTAssertTrue(isReadable(queue.fd))
        var seen: [Int] = []
        XCTAssertEqual(queue.take(max: 2, timeoutMs: 0) { seen.append(($0 as! Item).id) }, 2)
        XCTAssertTrue(isReadable(queue.fd), "one item is still pending")
        XCTAssertEqual(queue.take(max: 8, timeoutMs: 0) { seen.append(($0 as! Item).id) }, 1)
        XCTAssertEqual(seen, [1, 2, 3], "items come out in order")
        XCTAssertFalse(isReadable(queue.fd))
        XCTAssertEqual(queue.take(max: 8, timeoutMs: 0) { _ in XCTFail("nothing pending") }, 0)
    }

    func testTakeWaitsForAnItemFromAnotherThreadAndTimesOut() throws {
        let queue = try CompletionQueue()
        let start = EventLoop.now()
        XCTAssertEqual(queue.take(max: 1, timeoutMs: 50) { _ in }, 0)
        XCTAssertGreaterThanOrEqual(EventLoop.now() - start, 45_000_000, "waited about the timeout")
        let poster = try Thread.start {
            usleep(20_000)
            queue.post(Item(7))
        }
        var got = -1
        XCTAssertEqual(queue.take(max: 1, timeoutMs: -1) { got = ($0 as! Item).id }, 1)
        XCTAssertEqual(got, 7)
        pthread_join(poster, nil)
    }

    func testCloseDropsPendingItemsAndRefusesNewOnes() throws {
        let queue = try CompletionQueue()
        weak var dropped: Item?
        do {
            let item = Item(1)
            dropped = item
            XCTAssertTrue(queue.post(item))
        }
        queue.close()
        XCTAssertNil(dropped, "a closed queue releases what it held")
        XCTAssertFalse(queue.post(Item(2)))
        XCTAssertNil(queue.take(max: 1, timeoutMs: 0) { _ in XCTFail("closed") }, "a closed queue reports it")
    }

    func testCloseWakesATakeWaitingForever() throws {
        let queue = try CompletionQueue()
        let closer = try Thread.start {
            usleep(50_000)
            queue.close()
        }
        let start = EventLoop.now()
        XCTAssertNil(queue.take(max: 1, timeoutMs: -1) { _ in XCTFail("nothing was posted") })
        XCTAssertLessThan(EventLoop.now() - start, 2_000_000_000, "woken by close, not stuck")
        pthread_join(closer, nil)
    }
}
