import XCTest
@testable import LBCCore

final class StreamReceiveWindowTests: XCTestCase {
    func testQueuedMessagesKeepTheirWindowAndPartialOnesGiveItBack() {
        var w = StreamReceiveWindow(windowBytes: 1000)
        w.received(300)                                   // one whole 300-byte message, queued
        XCTAssertEqual(w.returnable(heldBytes: 300), 0)
        w.received(200)                                   // the start of a 900-byte message
        XCTAssertEqual(w.returnable(heldBytes: 300), 200, "a partial message must not stall the stream")
        w.received(700)                                   // its end: 900 bytes now queued too
        XCTAssertEqual(w.returnable(heldBytes: 1200), 0, "never negative")
        XCTAssertEqual(w.returnedBytes, 200)
        // The application takes the first message: what is outstanding shrinks to what is
        // still held (the 900-byte message, 200 bytes of which went back early).
        XCTAssertEqual(w.returnable(heldBytes: 900), 100)
        XCTAssertEqual(w.receivedBytes - w.returnedBytes, 900)
        XCTAssertEqual(w.returnable(heldBytes: 0), 900)
        XCTAssertEqual(w.returnedBytes, w.receivedBytes)
    }

    func testASlowReaderHoldsAtMostOneWindowOfMessages() {
        // The peer may send while received - returned < window.
        let window = 4096
        var w = StreamReceiveWindow(windowBytes: window)
        var held = 0
        var sent = 0
        while sent + 100 - w.returnedBytes <= window {    // the peer sends 100-byte messages
            w.received(100)
            sent += 100
            held += 100
            _ = w.returnable(heldBytes: held)
        }
        XCTAssertEqual(held, 4000, "nobody reads: the peer stopped after one window")
        XCTAssertEqual(w.returnedBytes, 0)
    }

    func testTakenBytesAreBatchedByAQuarterWindow() {
        var w = StreamReceiveWindow(windowBytes: 1000)
        XCTAssertEqual(w.batchBytes, 250)
        XCTAssertFalse(w.taken(100))
        XCTAssertFalse(w.taken(100))
        XCTAssertTrue(w.taken(100), "300 >= 250")
        XCTAssertEqual(w.takenSinceBatch, 0)
        XCTAssertTrue(w.taken(5000), "one big message fills a batch by itself")
        XCTAssertEqual(StreamReceiveWindow(windowBytes: 2).batchBytes, 1)
    }
}
