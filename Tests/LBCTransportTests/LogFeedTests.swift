import XCTest
@testable import LBCTransport

final class LogFeedTests: XCTestCase {
    private func drain(_ feed: LogFeed) -> [String] {
        var out: [String] = []
        while let taken = feed.next({ _, text in out.append(text); return true }), taken {}
        return out
    }

    private func events(_ queue: CompletionQueue, _ feed: LogFeed) -> Int {
        var n = 0
        _ = queue.take(max: 16, timeoutMs: 0) { item in
            if item === feed, feed.takeEvent() { n += 1 }
        }
        return n
    }

    func testOneEventPerBatchUntilTakenThenAgain() throws {
        let queue = try CompletionQueue()
        let feed = LogFeed(queue: queue, tag: 7)
        feed.append(.info, "a")
        feed.append(.warning, "b")
        XCTAssertEqual(events(queue, feed), 1, "lines arriving before the event is taken share it")
        XCTAssertEqual(drain(feed), ["a", "b"])
        XCTAssertEqual(events(queue, feed), 0)
        feed.append(.info, "c")
        XCTAssertEqual(events(queue, feed), 1, "a line after the event was taken announces again")
        XCTAssertEqual(drain(feed), ["c"])
    }

    func testRefusedCopyKeepsTheLine() throws {
        let feed = LogFeed(queue: try CompletionQueue(), tag: 0)
        feed.append(.error, "kept")
        XCTAssertEqual(feed.next { _, _ in false }, false)
        XCTAssertEqual(drain(feed), ["kept"])
        XCTAssertNil(feed.next { _, _ in XCTFail("empty"); return true })
    }

    func testOverflowDropsTheOldestAndSaysSo() throws {
        let feed = LogFeed(queue: try CompletionQueue(), tag: 0)
        for i in 0..<(LogFeed.capacity + 5) { feed.append(.debug, "line \(i)") }
        let lines = drain(feed)
        XCTAssertEqual(lines.count, LogFeed.capacity + 1)
        XCTAssertTrue(lines[0].hasPrefix("5 log lines were dropped"), lines[0])
        XCTAssertEqual(lines[1], "line 5")
        XCTAssertEqual(lines.last, "line \(LogFeed.capacity + 4)")
    }
}
