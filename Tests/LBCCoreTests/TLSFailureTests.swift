import XCTest
@testable import LBCCore

final class TLSFailureTests: XCTestCase {
    func testClassifyRecognisesTLSRecords() {
        XCTAssertEqual(TLSFailure.classify(firstBytes: [UInt8]()), .none)
        XCTAssertEqual(TLSFailure.classify(firstBytes: [0x16, 0x03, 0x03, 0x00, 0x7a]), .tls)  // handshake
        XCTAssertEqual(TLSFailure.classify(firstBytes: [0x15, 0x03, 0x01]), .tls)  // alert
        XCTAssertEqual(TLSFailure.classify(firstBytes: [0x16]), .tls)
    }

    func testClassifyRecognisesHTTP2AndText() {
        // An HTTP/2 SETTINGS frame header (length 0x000012, type 4).
        XCTAssertEqual(TLSFailure.classify(firstBytes: [0x00, 0x00, 0x12, 0x04]), .notTLS)
        XCTAssertEqual(TLSFailure.classify(firstBytes: Array("HTTP/1.1 400".utf8)), .notTLS)
        XCTAssertEqual(TLSFailure.classify(firstBytes: [0x16, 0x01]), .notTLS)
    }

    func testMessageForAPlaintextServerSaysSo() {
        let f = TLSFailure(reason: "wrong version number", peerBytes: .notTLS)
        let m = f.message(peer: "127.0.0.2:1", serverName: "svc.test", duringHandshake: true)
        XCTAssertEqual(m, "TLS handshake with 127.0.0.2:1 failed: the server did not answer with TLS"
            + " (a plaintext server on a TLS channel?) [wrong version number]")
    }

    func testMessageForAnEarlyCloseSuggestsAPlaintextServer() {
        let f = TLSFailure(peerBytes: .none, endOfStream: true)
        let m = f.message(peer: "127.0.0.2:1", serverName: "svc.test", duringHandshake: true)
        XCTAssertTrue(m.contains("closed the connection without answering the TLS handshake"), m)
        XCTAssertTrue(m.contains("plaintext server"), m)
    }

    func testMessageForHostnameMismatchNamesTheExpectedName() {
        let f = TLSFailure(reason: "certificate verify failed", verifyError: "hostname mismatch")
        let m = f.message(peer: "127.0.0.2:1", serverName: "svc.test", duringHandshake: true)
        XCTAssertTrue(m.hasSuffix(": certificate verify failed: hostname mismatch (verifying the certificate of \"svc.test\")"), m)
    }

    func testClientCertificateRejectionIsRecognised() {
        for alert in ["tlsv13 alert certificate required", "tlsv1 alert unknown ca", "sslv3 alert bad certificate"] {
            XCTAssertTrue(TLSFailure(reason: alert).isClientCertificateRejection, alert)
        }
        XCTAssertFalse(TLSFailure(reason: "certificate verify failed").isClientCertificateRejection)
        XCTAssertFalse(TLSFailure(reason: nil).isClientCertificateRejection)
    }

    func testEndOfStreamAfterBytesSaysTheServerClosed() {
        let f = TLSFailure(reason: nil, peerBytes: .tls, endOfStream: true)
        XCTAssertEqual(f.message(peer: "p", serverName: "s", duringHandshake: true),
                       "TLS handshake with p failed: the server closed the connection")
    }
}

final class TLSClosedAfterHandshakeTests: XCTestCase {
    func testClosedAfterHandshakeNamesAMissingClientCertificate() {
        let m = TLSFailure.closedAfterHandshakeMessage(peer: "p:1", clientCertificate: .requestedButMissing)
        XCTAssertTrue(m.contains("the server rejected the client certificate: it asked for one and none is configured"), m)
    }

    func testClosedAfterHandshakeWithACertificateSaysItWasRejected() {
        let m = TLSFailure.closedAfterHandshakeMessage(peer: "p:1", clientCertificate: .configured)
        XCTAssertTrue(m.contains("the server rejected the client certificate (not signed by a CA it trusts"), m)
    }

    func testClosedAfterHandshakeWithoutCertificatesBlamesNothing() {
        let m = TLSFailure.closedAfterHandshakeMessage(peer: "p:1", clientCertificate: .notRequested)
        XCTAssertEqual(m, "p:1 closed the connection right after the TLS handshake, before HTTP/2 started")
    }
}
