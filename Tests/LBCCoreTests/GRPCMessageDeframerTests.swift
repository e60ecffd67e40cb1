import XCTest
@testable import LBCCore

final class GRPCMessageDeframerTests: XCTestCase {
    private func frame(_ messages: [[UInt8]]) -> [UInt8] {
        var out: [UInt8] = []
        for message in messages {
            message.withUnsafeBytes { GRPCFraming.appendFrame($0, to: &out) }
        }
        return out
    }

    private func feed(_ deframer: inout GRPCMessageDeframer, _ bytes: [UInt8]) {
        bytes.withUnsafeBytes { deframer.append($0) }
    }

    func testAppendFrameWritesBigEndianPrefix() {
        var out: [UInt8] = [0xAA]
        let message = [UInt8](repeating: 7, count: 0x0102)
        message.withUnsafeBytes { GRPCFraming.appendFrame($0, to: &out) }
        XCTAssertEqual(Array(out.prefix(6)), [0xAA, 0, 0, 0, 0x01, 0x02])
        XCTAssertEqual(out.count, 1 + 5 + 0x0102)
        XCTAssertEqual(Array(out.suffix(0x0102)), message)
    }

    func testNextReturnsMessagesFedOneByteAtATime() throws {
        let messages: [[UInt8]] = [[1, 2, 3], [], Array(0...200).map { UInt8($0) }]
        var deframer = GRPCMessageDeframer(maxMessageSize: 1000)
        var received: [[UInt8]] = []
        for byte in frame(messages) {
            feed(&deframer, [byte])
            while let message = try deframer.next() { received.append(message) }
        }
        XCTAssertEqual(received, messages)
        XCTAssertFalse(deframer.hasPartialMessage)
        XCTAssertEqual(deframer.bufferedByteCount, 0)
    }

    func testNextReturnsSeveralMessagesFromOneChunk() throws {
        var deframer = GRPCMessageDeframer(maxMessageSize: 100)
        feed(&deframer, frame([[9], [8, 8], [7, 7, 7]]))
        XCTAssertEqual(try deframer.next(), [9])
        XCTAssertEqual(try deframer.next(), [8, 8])
        XCTAssertEqual(try deframer.next(), [7, 7, 7])
        XCTAssertNil(try deframer.next())
    }

    func testNextReturnsZeroLengthMessage() throws {
        var deframer = GRPCMessageDeframer(maxMessageSize: 0)
        feed(&deframer, [0, 0, 0, 0, 0])
        XCTAssertEqual(try deframer.next(), [])
        XCTAssertNil(try deframer.next())
        XCTAssertFalse(deframer.hasPartialMessage)
    }

    func testNextSplitsAcrossArbitraryChunkBoundaries() throws {
        let messages: [[UInt8]] = (0..<20).map { index in [UInt8](repeating: UInt8(index), count: index * 37) }
        let stream = frame(messages)
        for chunkSize in [2, 3, 5, 7, 64, 1000] {
            var deframer = GRPCMessageDeframer(maxMessageSize: 10_000)
            var received: [[UInt8]] = []
            var offset = 0
            while offset < stream.count {
                let end = min(offset + chunkSize, stream.count)
                feed(&deframer, Array(stream[offset..<end]))
                while let message = try deframer.next() { received.append(message) }
                offset = end
            }
            XCTAssertEqual(received, messages, "chunk size \(chunkSize)")
        }
    }

    func testNextThrowsOnTooLargePrefixBeforeBodyArrives() {
        var deframer = GRPCMessageDeframer(maxMessageSize: 10)
        feed(&deframer, [0, 0, 0, 0])
        XCTAssertNil(try deframer.next())
        feed(&deframer, [11])
        XCTAssertEqual(thrownError { () throws(DeframeError) in try deframer.next() },
                       .messageTooLarge(size: 11, limit: 10))
    }

    func testNextAcceptsMessageOfExactlyTheLimit() throws {
        var deframer = GRPCMessageDeframer(maxMessageSize: 3)
        feed(&deframer, frame([[1, 2, 3]]))
        XCTAssertEqual(try deframer.next(), [1, 2, 3])
    }

    func testNextThrowsOnHugeAnnouncedLength() {
        var deframer = GRPCMessageDeframer(maxMessageSize: 4 << 20)
        feed(&deframer, [0, 0xFF, 0xFF, 0xFF, 0xFF])
        XCTAssertEqual(thrownError { () throws(DeframeError) in try deframer.next() },
                       .messageTooLarge(size: 0xFFFF_FFFF, limit: 4 << 20))
    }

    func testNextThrowsOnCompressedFlag() {
        var deframer = GRPCMessageDeframer(maxMessageSize: 100)
        feed(&deframer, [1, 0, 0, 0, 1, 42])
        XCTAssertEqual(thrownError { () throws(DeframeError) in try deframer.next() }, .compressedWithoutEncoding)
    }

    func testNextThrowsOnInvalidFlag() {
        var deframer = GRPCMessageDeframer(maxMessageSize: 100)
        feed(&deframer, [0x80, 0, 0, 0, 0])
        XCTAssertEqual(thrownError { () throws(DeframeError) in try deframer.next() }, .invalidFlag(0x80))
    }

    func testHasPartialMessageWhenPrefixOrBodyIsIncomplete() throws {
        var deframer = GRPCMessageDeframer(maxMessageSize: 100)
        XCTAssertFalse(deframer.hasPartialMessage)
        feed(&deframer, [0, 0])
        XCTAssertTrue(deframer.hasPartialMessage)
        feed(&deframer, [0, 0, 2, 1])
        XCTAssertTrue(deframer.hasPartialMessage)
        feed(&deframer, [2])
        XCTAssertFalse(deframer.hasPartialMessage, "a complete message is waiting")
        XCTAssertEqual(try deframer.next(), [1, 2])
        XCTAssertFalse(deframer.hasPartialMessage)
    }

    func testAppendCompactsConsumedBytesOnLongStreams() throws {
        var deframer = GRPCMessageDeframer(maxMessageSize: 100_000)
        let message = [UInt8](repeating: 5, count: 1000)
        let stream = frame([[UInt8]](repeating: message, count: 200))
        var received = 0
        var offset = 0
        var largestStorage = 0
        while offset < stream.count {
            // 1500-byte chunks never align with 1005-byte frames: the buffer always holds a
            // partial frame behind consumed bytes.
            let end = min(offset + 1500, stream.count)
            feed(&deframer, Array(stream[offset..<end]))
            offset = end
            while let next = try deframer.next() {
                XCTAssertEqual(next, message)
                received += 1
            }
            largestStorage = max(largestStorage, deframer.storageByteCount)
        }
        XCTAssertEqual(received, 200)
        XCTAssertLessThan(largestStorage, 4096 * 2 + 1500)
        XCTAssertEqual(deframer.bufferedByteCount, 0)
    }

    func testDeframeErrorDescriptions() {
        XCTAssertEqual(DeframeError.messageTooLarge(size: 11, limit: 10).description,
                       "received message larger than max (11 vs. 10)")
        XCTAssertEqual(DeframeError.invalidFlag(0x80).description, "invalid compressed flag 0x80 in message prefix")
    }
}

final class GRPCMessageDeframerReuseTests: XCTestCase {
    func testLargeMessageIsAssembledInOneArrayOfItsSize() throws {
        let body = (0..<100_000).map { UInt8(truncatingIfNeeded: $0) }
        var stream: [UInt8] = []
        body.withUnsafeBytes { GRPCFraming.appendFrame($0, to: &stream) }
        var deframer = GRPCMessageDeframer(maxMessageSize: 1 << 20)
        var offset = 0
        while offset < stream.count {
            let end = min(offset + 16_384, stream.count)
            stream[offset..<end].withUnsafeBytes { deframer.append($0) }
            offset = end
            XCTAssertLessThan(deframer.storageByteCount, body.count + 64, "no second buffer")
        }
        let message = try XCTUnwrap(deframer.next())
        XCTAssertEqual(message, body)
        XCTAssertLessThan(message.capacity, body.count + 64, "sized by its prefix: nothing was regrown")
    }

    func testDonatedArrayServesTheNextMessage() throws {
        let body = [UInt8](repeating: 3, count: 70_000)
        var stream: [UInt8] = []
        body.withUnsafeBytes { GRPCFraming.appendFrame($0, to: &stream) }
        var deframer = GRPCMessageDeframer(maxMessageSize: 1 << 20)
        stream.withUnsafeBytes { deframer.append($0) }
        var first: [UInt8]? = try XCTUnwrap(deframer.next())
        let address = first!.withUnsafeBytes { $0.baseAddress }
        deframer.donate(first!)
        first = nil  // the application let go of it
        stream.withUnsafeBytes { deframer.append($0) }
        let second = try XCTUnwrap(deframer.next())
        XCTAssertEqual(second, body)
        XCTAssertEqual(second.withUnsafeBytes { $0.baseAddress }, address)
    }

    func testMessagesBeforeABadPrefixComeFirst() throws {
        var deframer = GRPCMessageDeframer(maxMessageSize: 10)
        ([0, 0, 0, 0, 1, 42, 0, 0, 0, 0, 11] as [UInt8]).withUnsafeBytes { deframer.append($0) }
        XCTAssertEqual(try deframer.next(), [42])
        XCTAssertThrowsError(try deframer.next())
        XCTAssertThrowsError(try deframer.next(), "stays failed")
    }
}
