import XCTest
@testable import LBCCore

/// Every frame sequence of the misbehaving-server battery, fed to the call state
/// machine as nghttp2's callbacks would (see TestSupport/CallStateMachine+Frames).
final class CallStateMachineTests: XCTestCase {
    private let message = grpcFrame(Array("resp".utf8))

    private func assertFinish(_ action: CallStateMachine.CloseAction, _ status: StatusCode, _ pattern: String = "",
                              file: StaticString = #filePath, line: UInt = #line) {
        guard case let .finish(got, text) = action else {
            return XCTFail("expected \(status), got \(action)", file: file, line: line)
        }
        XCTAssertEqual(got, status, text, file: file, line: line)
        XCTAssertTrue(pattern.isEmpty || text.lowercased().contains(pattern.lowercased()),
                      "message \"\(text)\" lacks \"\(pattern)\"", file: file, line: line)
        if status != .ok { XCTAssertFalse(text.isEmpty, "a failure needs a message", file: file, line: line) }
    }

    // MARK: normal responses

    func testTrailersWhenOpenEndUnaryCallOK() {
        var m = CallStateMachine.submitted(unary: true)
        var got: [[UInt8]] = []
        XCTAssertEqual(m.headers(okHeaders + [("x-h", "1")], endStream: false), .publishHeaders)
        XCTAssertEqual(m.data(message, into: &got), .none)
        XCTAssertEqual(m.headers(okTrailers + [("x-t", "2")], endStream: true), .none)
        assertFinish(m.streamClosed(errorCode: 0), .ok)
        XCTAssertEqual(got, [Array("resp".utf8)])
        XCTAssertEqual(m.headers.first("x-h"), Array("1".utf8))
        XCTAssertEqual(m.trailers.first("x-t"), Array("2".utf8))
        XCTAssertNil(m.headers.first("x-t"))
    }

    func testDataWhenOpenDeliversEveryMessageOfAStream() {
        var m = CallStateMachine.submitted(unary: false)
        var got: [[UInt8]] = []
        m.headers(okHeaders, endStream: false)
        let three = grpcFrame([1]) + grpcFrame([2, 2]) + grpcFrame([3, 3, 3])
        XCTAssertEqual(m.data(Array(three[0..<4]), into: &got), .none)   // split inside a prefix
        XCTAssertEqual(m.data(Array(three[4...]), into: &got), .none)
        m.headers(okTrailers, endStream: true)
        assertFinish(m.streamClosed(errorCode: 0), .ok)
        XCTAssertEqual(got, [[1], [2, 2], [3, 3, 3]])
    }

    func testTrailersOnlyWhenAwaitingHeadersMovesMetadataToTrailers() {
        var m = CallStateMachine.submitted(unary: false)
        XCTAssertEqual(m.headers(okHeaders + [("grpc-status", "5"), ("grpc-message", "no%20such"), ("x-a", "b")],
                                 endStream: true), .none)
        assertFinish(m.streamClosed(errorCode: 0), .notFound, "no such")
        XCTAssertTrue(m.headers.isEmpty)
        XCTAssertEqual(m.trailers.first("x-a"), Array("b".utf8))
    }

    func testTrailersOnlyOKWhenUnaryIsInternal() {
        var m = CallStateMachine.submitted(unary: true)
        m.headers(okHeaders + okTrailers, endStream: true)
        assertFinish(m.streamClosed(errorCode: 0), .internalError, "no response message")
    }

    func testTrailersOnlyWithoutContentTypeWhenStreamingIsOK() {
        var m = CallStateMachine.submitted(unary: false)
        m.headers([(":status", "200"), ("grpc-status", "0")], endStream: true)
        assertFinish(m.streamClosed(errorCode: 0), .ok)
    }

    func testBinaryMetadataWhenReadingHeadersIsDecoded() {
        var m = CallStateMachine.submitted(unary: false)
        m.headers(okHeaders + [("x-bin", "AAEC")], endStream: false)
        XCTAssertEqual(m.headers.first("x-bin"), [0, 1, 2])
    }

    // MARK: informational responses

    func testInformationalBlockWhenAwaitingHeadersIsSkipped() {
        for unary in [true, false] {
            var m = CallStateMachine.submitted(unary: unary)
            var got: [[UInt8]] = []
            XCTAssertEqual(m.headers([(":status", "100"), ("x-info", "1")], endStream: false), .none)
            XCTAssertEqual(m.response, .awaitingHeaders)
            // nghttp2 files this block under HCAT_HEADERS, like trailers: the machine does not.
            XCTAssertEqual(m.headers(okHeaders, endStream: false), .publishHeaders)
            XCTAssertEqual(m.httpStatus, 200)
            XCTAssertEqual(m.data(message, into: &got), .none)
            m.headers(okTrailers, endStream: true)
            assertFinish(m.streamClosed(errorCode: 0), .ok)
            XCTAssertEqual(got.count, 1, "the message after a 1xx must not be dropped")
            XCTAssertNil(m.headers.first("x-info"), "1xx fields are not response metadata")
        }
    }

    func testTwoInformationalBlocksWhenAwaitingHeadersAreSkipped() {
        var m = CallStateMachine.submitted(unary: true)
        var got: [[UInt8]] = []
        m.headers([(":status", "100")], endStream: false)
        m.headers([(":status", "103"), ("link", "x")], endStream: false)
        XCTAssertEqual(m.headers(okHeaders, endStream: false), .publishHeaders)
        m.data(message, into: &got)
        m.headers(okTrailers, endStream: true)
        assertFinish(m.streamClosed(errorCode: 0), .ok)
    }

    func testInformationalBlockWithEndStreamWhenAwaitingHeadersIsMalformed() {
        var m = CallStateMachine.submitted(unary: false)
        XCTAssertEqual(m.headers([(":status", "100")], endStream: true), .resetStream(HTTP2ErrorCode.protocolError))
        assertFinish(m.streamClosed(errorCode: HTTP2ErrorCode.protocolError), .internalError, "informational")
    }

    func testHeaderFramesWhenNoBlockWasStartedDelimitTheBlocks() {
        // The transport reports no block start: each frame's first field starts it.
        var m = CallStateMachine.submitted(unary: false)
        var got: [[UInt8]] = []
        XCTAssertEqual(m.headerFrame([(":status", "100")], endStream: false), .none)
        XCTAssertEqual(m.headerFrame(okHeaders + [("x-h", "1")], endStream: false), .publishHeaders)
        m.data(message, into: &got)
        XCTAssertEqual(m.headerFrame(okTrailers + [("x-t", "2")], endStream: true), .none)
        assertFinish(m.streamClosed(errorCode: 0), .ok)
        XCTAssertEqual(got.count, 1)
        XCTAssertEqual(m.headers.first("x-h"), Array("1".utf8))
        XCTAssertEqual(m.trailers.first("x-t"), Array("2".utf8))
    }

    func testEmptyHeaderFrameWhenOpenEndsTheStreamWithoutStatus() {
        var m = CallStateMachine.submitted(unary: false)
        m.headerFrame(okHeaders, endStream: false)
        XCTAssertEqual(m.headerFrame([], endStream: true), .none)
        XCTAssertEqual(m.response, .ended)
        assertFinish(m.streamClosed(errorCode: 0), .internalError, "without sending a gRPC status")
    }

    func testEmptyHeaderFrameWhenAwaitingHeadersIsMalformed() {
        var m = CallStateMachine.submitted(unary: false)
        XCTAssertEqual(m.headerFrame([], endStream: true), .resetStream(HTTP2ErrorCode.protocolError))
        assertFinish(m.streamClosed(errorCode: HTTP2ErrorCode.protocolError), .internalError, ":status")
    }

    // MARK: malformed responses

    func testHeaderBlockWithoutStatusWhenAwaitingHeadersIsMalformed() {
        for (unary, endStream) in [(true, true), (true, false), (false, true), (false, false)] {
            var m = CallStateMachine.submitted(unary: unary)
            XCTAssertEqual(m.headers([("content-type", "application/grpc"), ("grpc-status", "0")], endStream: endStream),
                           .resetStream(HTTP2ErrorCode.protocolError))
            assertFinish(m.streamClosed(errorCode: HTTP2ErrorCode.protocolError), .internalError, ":status")
        }
    }

    func testStreamResetByOwnSessionWhenReadingHeadersWithoutStatusNamesIt() {
        // nghttp2 checks :status itself and resets before reporting the block's end.
        var m = CallStateMachine.submitted(unary: false)
        m.headerBlockStarted(endStream: true)
        withBytes("grpc-status") { n in withBytes("0") { v in _ = m.receivedHeaderField(name: n, value: v) } }
        assertFinish(m.streamClosed(errorCode: HTTP2ErrorCode.protocolError), .internalError, "no valid :status")
    }

    func testNonNumericStatusWhenReadingHeadersIsMalformed() {
        var m = CallStateMachine.submitted(unary: false)
        XCTAssertEqual(m.headers([(":status", "2x0")], endStream: false), .resetStream(HTTP2ErrorCode.protocolError))
        assertFinish(m.streamClosed(errorCode: 0), .internalError, ":status")
    }

    func testTrailersWithoutEndStreamWhenOpenAreMalformed() {
        var m = CallStateMachine.submitted(unary: false)
        m.headers(okHeaders, endStream: false)
        XCTAssertEqual(m.headers(okTrailers, endStream: false), .resetStream(HTTP2ErrorCode.protocolError))
        assertFinish(m.streamClosed(errorCode: HTTP2ErrorCode.protocolError), .internalError, "END_STREAM")
    }

    func testDataWhenAwaitingHeadersIsMalformed() {
        var m = CallStateMachine.submitted(unary: false)
        var got: [[UInt8]] = []
        XCTAssertEqual(m.data(message, into: &got), .resetStream(HTTP2ErrorCode.protocolError))
        assertFinish(m.streamClosed(errorCode: HTTP2ErrorCode.protocolError), .internalError, "before the response headers")
        XCTAssertTrue(got.isEmpty)
    }

    func testDataWhenEndedIsMalformed() {
        var m = CallStateMachine.submitted(unary: false)
        var got: [[UInt8]] = []
        m.headers(okHeaders, endStream: false)
        m.headers(okTrailers, endStream: true)
        XCTAssertEqual(m.data(message, into: &got), .resetStream(HTTP2ErrorCode.protocolError))
        assertFinish(m.streamClosed(errorCode: 0), .internalError, "after the trailers")
        XCTAssertTrue(got.isEmpty)
    }

    func testHeaderFieldWhenHeaderListIsFullRejectsTheBlock() {
        var m = CallStateMachine.submitted(unary: true, maxHeaderListBytes: 100)
        XCTAssertEqual(m.headers(okHeaders + [("x-big", String(repeating: "a", count: 80))], endStream: false),
                       .resetStream(HTTP2ErrorCode.internalError))
        assertFinish(m.streamClosed(errorCode: HTTP2ErrorCode.internalError), .resourceExhausted, "100 bytes")
    }

    func testTrailerFieldWhenHeaderListIsFullRejectsTheBlock() {
        var m = CallStateMachine.submitted(unary: false, maxHeaderListBytes: 200)
        var got: [[UInt8]] = []
        m.headers(okHeaders, endStream: false)
        m.data(message, into: &got)
        XCTAssertEqual(m.headers(okTrailers + [("x-big", String(repeating: "a", count: 150))], endStream: true),
                       .resetStream(HTTP2ErrorCode.internalError))
        assertFinish(m.streamClosed(errorCode: HTTP2ErrorCode.internalError), .resourceExhausted, "header list")
    }

    // MARK: responses that are not gRPC

    func testForeignContentTypeWithGrpcStatusOKWhenEndedIsUnknown() {
        // grpcio: OK with the message; lbchannel: the body is not read, so never OK.
        for unary in [true, false] {
            var m = CallStateMachine.submitted(unary: unary)
            var got: [[UInt8]] = []
            XCTAssertEqual(m.headers([(":status", "200"), ("content-type", "text/html")], endStream: false), .publishHeaders)
            XCTAssertEqual(m.data(message, into: &got), .none)
            m.headers(okTrailers, endStream: true)
            assertFinish(m.streamClosed(errorCode: 0), .unknown, "text/html")
            XCTAssertTrue(got.isEmpty)
        }
    }

    func testForeignContentTypeWithGrpcErrorWhenEndedKeepsTheError() {
        var m = CallStateMachine.submitted(unary: false)
        m.headers([(":status", "200"), ("content-type", "text/plain")], endStream: false)
        m.headers([("grpc-status", "7"), ("grpc-message", "denied")], endStream: true)
        assertFinish(m.streamClosed(errorCode: 0), .permissionDenied, "denied")
    }

    func testMissingContentTypeWhenOpenIsUnknown() {
        var m = CallStateMachine.submitted(unary: false)
        var got: [[UInt8]] = []
        m.headers([(":status", "200")], endStream: false)
        m.data(message, into: &got)
        m.headers(okTrailers, endStream: true)
        assertFinish(m.streamClosed(errorCode: 0), .unknown, "without a content-type")
        XCTAssertTrue(got.isEmpty)
    }

    func testEndStreamWhenHTTPErrorWithoutGrpcStatusMapsTheHTTPStatus() {
        let mapping: [(String, StatusCode)] = [("400", .internalError), ("401", .unauthenticated), ("404", .unimplemented),
                                               ("503", .unavailable), ("500", .unknown)]
        for (http, status) in mapping {
            var m = CallStateMachine.submitted(unary: true)
            var got: [[UInt8]] = []
            m.headers([(":status", http), ("content-type", "text/html")], endStream: false)
            m.data(Array("<html>".utf8), into: &got)
            assertFinish(m.streamClosed(errorCode: 0), status, http)
        }
    }

    func testGrpcStatusOKWhenHTTP503IsUnavailable() {
        var m = CallStateMachine.submitted(unary: false)
        m.headers([(":status", "503"), ("content-type", "application/grpc"), ("grpc-status", "0")], endStream: true)
        assertFinish(m.streamClosed(errorCode: 0), .unavailable, "503")
    }

    // MARK: messages

    func testSecondMessageWhenUnaryResetsTheStream() {
        var m = CallStateMachine.submitted(unary: true)
        var got: [[UInt8]] = []
        m.headers(okHeaders, endStream: false)
        XCTAssertEqual(m.data(message + message, into: &got), .resetStream(HTTP2ErrorCode.cancel))
        assertFinish(m.streamClosed(errorCode: HTTP2ErrorCode.cancel), .internalError, "more than one")
    }

    func testSecondDataFrameWhenUnaryResetsTheStream() {
        var m = CallStateMachine.submitted(unary: true)
        var got: [[UInt8]] = []
        m.headers(okHeaders, endStream: false)
        XCTAssertEqual(m.data(message, into: &got), .none)
        XCTAssertEqual(m.data(message, into: &got), .resetStream(HTTP2ErrorCode.cancel))
        m.headers(okTrailers, endStream: true)
        assertFinish(m.streamClosed(errorCode: 0), .internalError, "more than one")
    }

    func testTrailersOKWhenUnaryHasNoMessageIsInternal() {
        var m = CallStateMachine.submitted(unary: true)
        m.headers(okHeaders, endStream: false)
        m.headers(okTrailers, endStream: true)
        assertFinish(m.streamClosed(errorCode: 0), .internalError, "no response message")
    }

    func testTrailersOKWhenPartialMessageIsInternal() {
        for cut in [3, 7] {  // inside the prefix, inside the body
            var m = CallStateMachine.submitted(unary: false)
            var got: [[UInt8]] = []
            m.headers(okHeaders, endStream: false)
            m.data(Array(message[0..<cut]), into: &got)
            m.headers(okTrailers, endStream: true)
            assertFinish(m.streamClosed(errorCode: 0), .internalError, "middle of a message")
        }
    }

    func testDataWhenMessageTooLargeResetsBeforeTheBody() {
        var m = CallStateMachine.submitted(unary: false, maxMessage: 10)
        var got: [[UInt8]] = []
        m.headers(okHeaders, endStream: false)
        XCTAssertEqual(m.data(grpcFrame([1], announcedLength: 100), into: &got), .resetStream(HTTP2ErrorCode.cancel))
        assertFinish(m.streamClosed(errorCode: HTTP2ErrorCode.cancel), .resourceExhausted, "larger than max")
    }

    func testDataWhenCompressedFlagIsInternal() {
        var m = CallStateMachine.submitted(unary: true)
        var got: [[UInt8]] = []
        m.headers(okHeaders, endStream: false)
        XCTAssertEqual(m.data(grpcFrame([1], compressed: true), into: &got), .resetStream(HTTP2ErrorCode.cancel))
        assertFinish(m.streamClosed(errorCode: HTTP2ErrorCode.cancel), .internalError, "compressed")
    }

    func testEndStreamOnDataWhenOpenWithoutTrailersIsInternal() {
        var m = CallStateMachine.submitted(unary: true)
        var got: [[UInt8]] = []
        m.headers(okHeaders, endStream: false)
        m.data(message, into: &got)
        assertFinish(m.streamClosed(errorCode: 0), .internalError, "without sending a gRPC status")
    }

    func testInvalidGrpcStatusWhenEndedIsUnknown() {
        var m = CallStateMachine.submitted(unary: false)
        m.headers(okHeaders + [("grpc-status", "abc")], endStream: true)
        assertFinish(m.streamClosed(errorCode: 0), .unknown, "invalid grpc-status")
        var n = CallStateMachine.submitted(unary: false)
        n.headers(okHeaders + [("grpc-status", "99")], endStream: true)
        assertFinish(n.streamClosed(errorCode: 0), .unknown, "99")
    }

    // MARK: resets

    func testServerResetWhenOpenIsTheServers() {
        let cases: [(UInt32, StatusCode, String)] = [
            (HTTP2ErrorCode.cancel, .cancelled, "by the server"),
            (HTTP2ErrorCode.internalError, .internalError, "reset by the server"),
            (HTTP2ErrorCode.protocolError, .internalError, "reset by the server"),
            (HTTP2ErrorCode.enhanceYourCalm, .resourceExhausted, "ENHANCE_YOUR_CALM"),
            (HTTP2ErrorCode.inadequateSecurity, .permissionDenied, "INADEQUATE_SECURITY"),
        ]
        for (code, status, text) in cases {
            var m = CallStateMachine.submitted(unary: false)
            var got: [[UInt8]] = []
            m.headers(okHeaders, endStream: false)
            m.data(message, into: &got)
            m.receivedReset(errorCode: code)
            assertFinish(m.streamClosed(errorCode: code), status, text)
        }
    }

    func testServerResetWhenEndedKeepsTheGrpcStatus() {
        var m = CallStateMachine.submitted(unary: false)
        m.headers(okHeaders + okTrailers, endStream: true)
        m.receivedReset(errorCode: HTTP2ErrorCode.noError)
        assertFinish(m.streamClosed(errorCode: 0), .ok)
    }

    func testOwnSessionResetWhenOpenIsReportedAsLocal() {
        // nghttp2 resets a stream whose peer overran the window; no RST_STREAM arrived.
        var m = CallStateMachine.submitted(unary: false)
        m.headers(okHeaders, endStream: false)
        assertFinish(m.streamClosed(errorCode: HTTP2ErrorCode.flowControlError), .internalError, "flow-control")
        if case let .finish(_, text) = m.streamClosed(errorCode: HTTP2ErrorCode.flowControlError) {
            XCTAssertFalse(text.contains("by the server"), text)
        }
        var n = CallStateMachine.submitted(unary: false)
        n.headers(okHeaders, endStream: false)
        assertFinish(n.streamClosed(errorCode: HTTP2ErrorCode.protocolError), .internalError, "client reset the stream")
    }

    func testServerRefusalWhenAwaitingHeadersIsRetriedOnce() {
        var m = CallStateMachine.submitted(unary: true)
        m.receivedReset(errorCode: HTTP2ErrorCode.refusedStream)
        XCTAssertEqual(m.streamClosed(errorCode: HTTP2ErrorCode.refusedStream), .retryTransparently)
        m.prepareForRetry()
        m.dispatched(queued: false)
        m.receivedReset(errorCode: HTTP2ErrorCode.refusedStream)
        assertFinish(m.streamClosed(errorCode: HTTP2ErrorCode.refusedStream), .unavailable, "REFUSED_STREAM")
    }

    func testGoAwayRefusalWhenAwaitingHeadersIsRetriedOnce() {
        // Streams above GOAWAY's last-stream-id close with REFUSED_STREAM and no RST_STREAM.
        var m = CallStateMachine.submitted(unary: true)
        XCTAssertEqual(m.streamClosed(errorCode: HTTP2ErrorCode.refusedStream), .retryTransparently)
        m.prepareForRetry()
        m.dispatched(queued: false)
        assertFinish(m.streamClosed(errorCode: HTTP2ErrorCode.refusedStream), .unavailable, "GOAWAY")
    }

    func testServerRefusalWhenStreamingIsNotRetried() {
        var m = CallStateMachine.submitted(unary: false)
        m.receivedReset(errorCode: HTTP2ErrorCode.refusedStream)
        assertFinish(m.streamClosed(errorCode: HTTP2ErrorCode.refusedStream), .unavailable, "REFUSED_STREAM")
    }

    func testServerRefusalWhenStreamingWithRetainedRequestIsRetriedOnce() {
        var m = CallStateMachine.submitted(unary: false)
        m.receivedReset(errorCode: HTTP2ErrorCode.refusedStream)
        XCTAssertEqual(m.streamClosed(errorCode: HTTP2ErrorCode.refusedStream, requestRetained: true), .retryTransparently)
        m.prepareForRetry()
        m.dispatched(queued: false)
        XCTAssertEqual(m.streamClosed(errorCode: HTTP2ErrorCode.refusedStream, requestRetained: true),
                       .finish(.unavailable, "stream refused by the server (a GOAWAY did not cover it)"))
    }

    func testResponseHeadersArrivedIsSetOnlyForNonTrailersOnlyResponses() {
        var m = CallStateMachine.submitted(unary: true)
        m.headers(okHeaders, endStream: false)
        XCTAssertTrue(m.receivedResponseHeaders)
        var t = CallStateMachine.submitted(unary: true)
        t.headers(okHeaders + [("grpc-status", "14")], endStream: true)
        XCTAssertFalse(t.receivedResponseHeaders)
    }

    func testServerRefusalWhenHeadersArrivedIsNotRetried() {
        var m = CallStateMachine.submitted(unary: true)
        m.headers(okHeaders, endStream: false)
        m.receivedReset(errorCode: HTTP2ErrorCode.refusedStream)
        assertFinish(m.streamClosed(errorCode: HTTP2ErrorCode.refusedStream), .unavailable, "REFUSED_STREAM")
    }

    // MARK: requests that were not sent

    func testRequestNotSentWhenHeaderBlockTooLargeFailsLocallyWithoutRetry() {
        for unary in [true, false] {
            var m = CallStateMachine.submitted(unary: unary)
            m.requestNotSent(.headerBlockTooLarge(headerListBytes: 70_000, limitBytes: 65_536))
            // nghttp2 closes such a stream with REFUSED_STREAM: it is not the server's refusal.
            let action = m.streamClosed(errorCode: HTTP2ErrorCode.refusedStream)
            assertFinish(action, .resourceExhausted, "65536-byte")
            if case let .finish(_, text) = action { XCTAssertFalse(text.contains("by the server"), text) }
        }
    }

    func testRequestNotSentWhenConnectionNotAcceptingIsRetried() {
        var m = CallStateMachine.submitted(unary: false)
        m.requestNotSent(.connectionNotAccepting)
        XCTAssertEqual(m.streamClosed(errorCode: HTTP2ErrorCode.refusedStream), .retryTransparently)
    }

    func testRequestNotSentWhenOtherFailureIsInternal() {
        var m = CallStateMachine.submitted(unary: true)
        m.requestNotSent(.failed("out of memory"))
        assertFinish(m.streamClosed(errorCode: HTTP2ErrorCode.refusedStream), .internalError, "out of memory")
    }

    // MARK: local ends

    func testAbandonWhenQueuedLeavesTheConnectionQueue() {
        var m = CallStateMachine(maxReceiveMessageSize: 100, singleResponse: true)
        m.dispatched(queued: true)
        XCTAssertEqual(m.abandon(), .leaveConnectionQueue)
        XCTAssertEqual(m.request, .unassigned)
    }

    func testAbandonWhenSubmittedResetsTheStream() {
        var m = CallStateMachine.submitted(unary: true)
        XCTAssertEqual(m.abandon(), .resetStream)
    }

    func testAbandonWhenUnassignedLeavesTheWaitingList() {
        var m = CallStateMachine(maxReceiveMessageSize: 100, singleResponse: false)
        XCTAssertEqual(m.abandon(), .leaveWaitingList)
    }

    func testAbandonWhenNotSentDoesNothing() {
        var m = CallStateMachine.submitted(unary: true)
        m.requestNotSent(.cancelled)
        XCTAssertEqual(m.abandon(), .none)
    }

    func testStreamClosedWhenQueuedIsRetried() {
        // The connection went away while the call waited for a stream slot.
        var m = CallStateMachine(maxReceiveMessageSize: 100, singleResponse: false)
        m.dispatched(queued: true)
        XCTAssertEqual(m.streamClosed(errorCode: HTTP2ErrorCode.refusedStream), .retryTransparently)
    }

    func testConnectionClosedWhenSubmittedEndsWithItsReason() {
        var m = CallStateMachine.submitted(unary: true)
        m.headers(okHeaders, endStream: false)
        assertFinish(m.connectionClosed(status: .unavailable, message: "connection lost"), .unavailable, "connection lost")
    }

    func testConnectionClosedWhenQueuedIsRetried() {
        var m = CallStateMachine(maxReceiveMessageSize: 100, singleResponse: false)
        m.dispatched(queued: true)
        XCTAssertEqual(m.connectionClosed(status: .unavailable, message: "lost"), .retryTransparently)
    }

    func testConnectionClosedWhenMalformedKeepsTheFirstFailure() {
        var m = CallStateMachine.submitted(unary: false)
        m.headers([("grpc-status", "0")], endStream: true)
        assertFinish(m.connectionClosed(status: .unavailable, message: "lost"), .internalError, ":status")
    }

    func testQueuedCallWhenSubmittedBehavesAsSubmitted() {
        var m = CallStateMachine(maxReceiveMessageSize: 100, singleResponse: true)
        m.dispatched(queued: true)
        m.requestSubmitted()
        XCTAssertEqual(m.abandon(), .resetStream)
    }

    func testFinishWhenFinishedIsRefusedAndEventsAreIgnored() {
        var m = CallStateMachine.submitted(unary: false)
        XCTAssertTrue(m.finish())
        XCTAssertFalse(m.finish())
        var got: [[UInt8]] = []
        m.headerBlockStarted(endStream: false)
        XCTAssertEqual(m.headerBlockEnded(), .none)
        XCTAssertEqual(m.data(message, into: &got), .none)
        XCTAssertTrue(got.isEmpty)
    }

    func testPrepareForRetryWhenResponseArrivedForgetsIt() {
        var m = CallStateMachine.submitted(unary: true)
        m.headers(okHeaders + [("x-a", "1")], endStream: false)
        m.prepareForRetry()
        XCTAssertEqual(m.request, .unassigned)
        XCTAssertEqual(m.response, .awaitingHeaders)
        XCTAssertTrue(m.headers.isEmpty)
        XCTAssertEqual(m.httpStatus, 0)
    }
}
