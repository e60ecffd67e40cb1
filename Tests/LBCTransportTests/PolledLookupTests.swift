import Glibc
import XCTest
@testable import LBCTransport

final class PolledLookupTests: XCTestCase {
    private final class Box: @unchecked Sendable {
        var result: Result<[String], LookupFailure>?
    }

    /// Run `lookup` on another thread (as the channel's lookup thread does).
    private func startLookup(_ polled: PolledLookup, _ box: Box) throws -> pthread_t {
        try Thread.start { box.result = polled.lookup("svc") }
    }

    private func takeEvents(_ queue: CompletionQueue, _ polled: PolledLookup, waitMs: Int64) -> Int {
        var n = 0
        _ = queue.take(max: 8, timeoutMs: waitMs) { item in
            if item === polled, polled.takeEvent() { n += 1 }
        }
        return n
    }

    func testAnEventThenTheAnswerEndsTheLookup() throws {
        let queue = try CompletionQueue()
        let polled = PolledLookup(queue: queue, tag: 3)
        XCTAssertFalse(polled.answer(.success(["10.0.0.1:1"])), "nothing is due yet")
        let box = Box()
        let t = try startLookup(polled, box)
        XCTAssertEqual(takeEvents(queue, polled, waitMs: 2000), 1)
        XCTAssertTrue(polled.answer(.success(["10.0.0.1:1", "10.0.0.2:1"])))
        XCTAssertFalse(polled.answer(.success([])), "answered once")
        pthread_join(t, nil)
        guard case .success(let addresses)? = box.result else { return XCTFail("\(String(describing: box.result))") }
        XCTAssertEqual(addresses, ["10.0.0.1:1", "10.0.0.2:1"])
    }

    func testAbandonReleasesAWaitingLookupAndLaterOnes() throws {
        let queue = try CompletionQueue()
        let polled = PolledLookup(queue: queue, tag: 3)
        let box = Box()
        let t = try startLookup(polled, box)
        XCTAssertEqual(takeEvents(queue, polled, waitMs: 2000), 1)
        polled.abandon()
        pthread_join(t, nil)
        guard case .failure(let failure)? = box.result else { return XCTFail("not a failure") }
        XCTAssertTrue(failure.message.contains("closed"), failure.message)
        guard case .failure = polled.lookup("svc") else { return XCTFail("a lookup after abandon waited") }
        XCTAssertFalse(polled.answer(.success([])))
    }

    func testAFreedQueueFailsTheLookupInsteadOfWaiting() throws {
        let queue = try CompletionQueue()
        let polled = PolledLookup(queue: queue, tag: 3)
        queue.close()
        guard case .failure(let failure) = polled.lookup("svc") else { return XCTFail("waited") }
        XCTAssertTrue(failure.message.contains("queue"), failure.message)
    }
}
