import XCTest
@testable import LBCCore

final class TLSStateMachineTests: XCTestCase {
    private func handshaking(at now: Int64 = 1_000) -> TLSStateMachine {
        var m = TLSStateMachine(peer: "127.0.0.2:443", serverName: "svc.test")
        XCTAssertEqual(m.startHandshake(nowNs: now), .none)
        XCTAssertEqual(m.state, .handshaking)
        return m
    }

    func testStartHandshakeWhenIdleStartsOnce() {
        var m = handshaking()
        XCTAssertEqual(m.startHandshake(nowNs: 5_000), .none)
        XCTAssertEqual(m.state, .handshaking)
    }

    func testWantReadAndWantWriteWhenHandshakingWaitForTheSocket() {
        var m = handshaking()
        XCTAssertEqual(m.handshakeStepped(.wantRead, nowNs: 2_000), .waitForReadable)
        XCTAssertEqual(m.handshakeStepped(.wantWrite, nowNs: 3_000), .waitForWritable)
        XCTAssertEqual(m.state, .handshaking)
    }

    func testCompleteWithH2WhenHandshakingEstablishesWithTheDuration() {
        var m = handshaking(at: 1_000)
        XCTAssertEqual(m.handshakeStepped(.complete(alpn: "h2", resumed: true), nowNs: 4_500),
                       .established(handshakeNs: 3_500, resumed: true))
        XCTAssertEqual(m.state, .established)
        XCTAssertEqual(m.handshakeNs, 3_500)
        XCTAssertTrue(m.resumed)
    }

    func testCompleteWithoutALPNWhenHandshakingFailsNamingH2() {
        var m = handshaking()
        guard case .fail(let message) = m.handshakeStepped(.complete(alpn: nil, resumed: false), nowNs: 2_000) else {
            return XCTFail("expected a failure")
        }
        XCTAssertTrue(message.contains("did not select the ALPN protocol \"h2\""), message)
        XCTAssertTrue(message.contains("selected: none"), message)
        XCTAssertEqual(m.state, .failed(message))
    }

    func testCompleteWithOtherALPNWhenHandshakingFailsNamingIt() {
        var m = handshaking()
        guard case .fail(let message) = m.handshakeStepped(.complete(alpn: "http/1.1", resumed: false), nowNs: 2_000) else {
            return XCTFail("expected a failure")
        }
        XCTAssertTrue(message.contains("selected: \"http/1.1\""), message)
    }

    func testFailedWhenHandshakingNamesTheVerifyError() {
        var m = handshaking()
        let failure = TLSFailure(reason: "certificate verify failed", verifyError: "certificate has expired")
        guard case .fail(let message) = m.handshakeStepped(.failed(failure), nowNs: 2_000) else {
            return XCTFail("expected a failure")
        }
        XCTAssertEqual(message, "TLS handshake with 127.0.0.2:443 failed: certificate verify failed: certificate has expired"
            + " (verifying the certificate of \"svc.test\")")
    }

    func testEventsWhenFailedDoNothing() {
        var m = handshaking()
        _ = m.handshakeStepped(.failed(TLSFailure(reason: "x")), nowNs: 2_000)
        XCTAssertEqual(m.handshakeStepped(.complete(alpn: "h2", resumed: false), nowNs: 3_000), .none)
        XCTAssertEqual(m.transferFailed(TLSFailure(reason: "y")), .none)
        XCTAssertEqual(m.close(), .none)
    }

    func testTransferFailedWhenEstablishedFailsWithTheAlert() {
        var m = handshaking()
        _ = m.handshakeStepped(.complete(alpn: "h2", resumed: false), nowNs: 2_000)
        guard case .fail(let message) = m.transferFailed(TLSFailure(reason: "tlsv13 alert certificate required")) else {
            return XCTFail("expected a failure")
        }
        XCTAssertEqual(message, "TLS error on the connection to 127.0.0.2:443: tlsv13 alert certificate required"
            + " (the server rejected the client certificate)")
    }

    func testCloseWhenEstablishedSendsCloseNotifyOnce() {
        var m = handshaking()
        _ = m.handshakeStepped(.complete(alpn: "h2", resumed: false), nowNs: 2_000)
        XCTAssertEqual(m.close(), .sendCloseNotify)
        XCTAssertEqual(m.state, .shuttingDown)
        XCTAssertEqual(m.close(), .none)
    }

    func testPeerClosedWhenEstablishedShutsDownWithoutCloseNotify() {
        var m = handshaking()
        _ = m.handshakeStepped(.complete(alpn: "h2", resumed: false), nowNs: 2_000)
        m.peerClosed()
        XCTAssertEqual(m.state, .shuttingDown)
        XCTAssertEqual(m.close(), .none)
    }

    func testCloseWhenHandshakingSendsNothing() {
        var m = handshaking()
        XCTAssertEqual(m.close(), .none)
        if case .failed = m.state {} else { XCTFail("expected failed, got \(m.state)") }
    }

    func testHandshakeNeverReportsANegativeDuration() {
        var m = handshaking(at: 10_000)
        XCTAssertEqual(m.handshakeStepped(.complete(alpn: "h2", resumed: false), nowNs: 9_000),
                       .established(handshakeNs: 0, resumed: false))
    }
}
