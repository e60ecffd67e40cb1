import XCTest
@testable import LBCCore

final class TLSOptionsTests: XCTestCase {
    private let pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"

    func testDefaultsArePlaintextWithResumption() {
        let o = ChannelOptions()
        XCTAssertFalse(o.tls.enabled)
        XCTAssertTrue(o.tls.sessionResumption)
        XCTAssertEqual(o.tls.minVersion, .tls12)
        XCTAssertNoThrow(try o.tls.validate())
    }

    func testSetEveryTLSKeyThroughChannelOptions() throws {
        var o = ChannelOptions()
        try o.set("tls", "true")
        try o.set("tls_ca_file", "/ca.pem")
        try o.set("tls_ca_dir", "/certs")
        try o.set("tls_ca_pem", pem)
        try o.set("tls_cert_file", "/c.pem")
        try o.set("tls_key_file", "/c.key")
        try o.set("tls_server_name", "svc.test")
        try o.set("tls_min_version", "1.3")
        try o.set("tls_session_resumption", "false")
        XCTAssertTrue(o.tls.enabled)
        XCTAssertEqual(o.tls.caFile, "/ca.pem")
        XCTAssertEqual(o.tls.caDirectory, "/certs")
        XCTAssertEqual(o.tls.caPEM, pem)
        XCTAssertEqual(o.tls.certificateFile, "/c.pem")
        XCTAssertEqual(o.tls.keyFile, "/c.key")
        XCTAssertEqual(o.tls.serverName, "svc.test")
        XCTAssertEqual(o.tls.minVersion, .tls13)
        XCTAssertFalse(o.tls.sessionResumption)
        XCTAssertNoThrow(try o.tls.validate())
        for key in TLSOptions.keys { XCTAssertTrue(ChannelOptions.keys.contains(key), key) }
    }

    func testBadValuesLeaveTheOptionsUnchanged() {
        var o = ChannelOptions()
        XCTAssertEqual(thrownError { () throws(OptionError) in try o.set("tls_ca_pem", "not pem") }?.kind, .invalidValue)
        XCTAssertEqual(thrownError { () throws(OptionError) in try o.set("tls_ca_file", "") }?.kind, .invalidValue)
        XCTAssertEqual(thrownError { () throws(OptionError) in try o.set("tls_server_name", "a b") }?.kind, .invalidValue)
        XCTAssertEqual(thrownError { () throws(OptionError) in try o.set("tls_min_version", "1.1") }?.kind, .invalidValue)
        XCTAssertEqual(thrownError { () throws(OptionError) in try o.set("tls", "maybe") }?.kind, .invalidValue)
        XCTAssertEqual(thrownError { () throws(OptionError) in try o.set("tls_bogus", "1") }?.kind, .unknownKey)
        XCTAssertEqual(o, ChannelOptions())
    }

    func testValidateRejectsTLSSettingsWithTLSOff() {
        var t = TLSOptions()
        t.caFile = "/ca.pem"
        let e = thrownError { () throws(OptionError) in try t.validate() }
        XCTAssertEqual(e?.message, "option \"tls_ca_file\": is a TLS setting but TLS is off (set \"tls\" to true)")
    }

    func testValidateRejectsAKeyWithoutACertificate() {
        var t = TLSOptions()
        t.enabled = true
        t.keyFile = "/c.key"
        let e = thrownError { () throws(OptionError) in try t.validate() }
        XCTAssertTrue(e?.message.contains("a client key needs its certificate") ?? false, e?.message ?? "")
    }

    func testValidateRejectsACertificateWithoutAKey() {
        var t = TLSOptions()
        t.enabled = true
        t.certificatePEM = pem
        let e = thrownError { () throws(OptionError) in try t.validate() }
        XCTAssertTrue(e?.message.contains("needs its private key") ?? false, e?.message ?? "")
    }

    func testValidateRejectsFileAndPEMOfTheSameThing() {
        var t = TLSOptions()
        t.enabled = true
        t.certificateFile = "/c.pem"
        t.certificatePEM = pem
        t.keyFile = "/c.key"
        XCTAssertNotNil(thrownError { () throws(OptionError) in try t.validate() })
    }
}
