import Foundation
import XCTest
import LBCCore
@testable import LBCTransport

/// TLSContext reads its files when built and names the file and the reason when it
/// cannot use them (no sockets involved: the handshake is tested against real servers
/// in Tests/python/test_tls.py).
final class TLSContextTests: XCTestCase {
    private var dir: URL!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("lbc-tls-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: dir)
    }

    private func file(_ name: String, _ text: String) throws -> String {
        let url = dir.appendingPathComponent(name)
        try text.write(to: url, atomically: true, encoding: .utf8)
        return url.path
    }

    private func error(_ options: TLSOptions) -> String? {
        do {
            _ = try TLSContext(options: options)
            return nil
        } catch {
            return error.message
        }
    }

    func testDefaultsUseTheSystemRoots() throws {
        var o = TLSOptions()
        o.enabled = true
        let a = try TLSContext(options: o), b = try TLSContext(options: o)
        XCTAssertNotEqual(a.generation, b.generation, "every context is a new generation")
    }

    func testMissingCAFileIsNamedWithTheSystemReason() {
        var o = TLSOptions()
        o.caFile = dir.appendingPathComponent("missing.pem").path
        XCTAssertEqual(error(o), "tls_ca_file \"\(o.caFile!)\": cannot open: No such file or directory")
    }

    func testEmptyAndGarbageCAFilesAreRefused() throws {
        var o = TLSOptions()
        o.caFile = try file("empty.pem", "")
        XCTAssertEqual(error(o), "tls_ca_file \"\(o.caFile!)\": the file is empty")
        o.caFile = try file("garbage.pem", "hello\n")
        XCTAssertTrue(error(o)?.hasPrefix("tls_ca_file \"\(o.caFile!)\": no certificate found") ?? false, error(o) ?? "")
    }

    func testCADirectoryMustBeADirectory() throws {
        var o = TLSOptions()
        o.caDirectory = try file("notadir", "x")
        XCTAssertEqual(error(o), "tls_ca_dir \"\(o.caDirectory!)\": not a directory")
    }

    func testBrokenPEMCertificateIsRefused() {
        var o = TLSOptions()
        o.caPEM = "-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n"
        XCTAssertTrue(error(o)?.hasPrefix("tls_ca_pem: no certificate found") ?? false, error(o) ?? "")
    }

    func testIPAddressLiteralsAreRecognised() {
        XCTAssertTrue(TLSTransport.isIPAddress("127.0.0.1"))
        XCTAssertTrue(TLSTransport.isIPAddress("::1"))
        XCTAssertFalse(TLSTransport.isIPAddress("svc.test"))
        XCTAssertFalse(TLSTransport.isIPAddress("1.2.3"))
    }
}
