import XCTest
@testable import LBCCore

final class TargetTests: XCTestCase {
    private func parse(_ text: String, file: StaticString = #filePath, line: UInt = #line) -> Target? {
        do {
            return try Target.parse(text)
        } catch {
            XCTFail("parse(\(text)) threw \(error.message)", file: file, line: line)
            return nil
        }
    }

    private func failure(_ text: String, file: StaticString = #filePath, line: UInt = #line) -> String {
        thrownError({ () throws(TargetParseError) -> Target in try Target.parse(text) }, file: file, line: line)?.message ?? ""
    }

    // MARK: ipv4

    func testParseIPv4SingleAddress() {
        XCTAssertEqual(parse("ipv4:127.0.0.1:50051"), .addresses([.ipv4(host: "127.0.0.1", port: 50051)]))
    }

    func testParseIPv4ListKeepsOrder() {
        XCTAssertEqual(parse("ipv4:10.0.0.2:1,10.0.0.1:65535"),
                       .addresses([.ipv4(host: "10.0.0.2", port: 1), .ipv4(host: "10.0.0.1", port: 65535)]))
    }

    func testParseIPv4RejectsShortAddress() {
        XCTAssertEqual(failure("ipv4:1.2.3:80"), #"invalid target "ipv4:1.2.3:80": "1.2.3" is not an IPv4 address"#)
    }

    func testParseIPv4RejectsHostName() {
        XCTAssertTrue(failure("ipv4:localhost:80").contains(#""localhost" is not an IPv4 address"#))
    }

    func testParseIPv4RejectsIPv6Address() {
        XCTAssertTrue(failure("ipv4:[::1]:80").contains("is not an IPv4 address"))
    }

    func testParseIPv4RejectsMissingPort() {
        XCTAssertTrue(failure("ipv4:1.2.3.4").contains(#"missing port in "1.2.3.4""#))
        XCTAssertTrue(failure("ipv4:1.2.3.4:").contains(#"missing port in "1.2.3.4:""#))
    }

    func testParseIPv4RejectsBadPorts() {
        XCTAssertTrue(failure("ipv4:1.2.3.4:0").contains(#""0" is not a valid port"#))
        XCTAssertTrue(failure("ipv4:1.2.3.4:65536").contains(#""65536" is not a valid port"#))
        XCTAssertTrue(failure("ipv4:1.2.3.4:http").contains(#""http" is not a valid port"#))
        XCTAssertTrue(failure("ipv4:1.2.3.4:-1").contains(#""-1" is not a valid port"#))
        XCTAssertTrue(failure("ipv4:1.2.3.4:+80").contains(#""+80" is not a valid port"#))
    }

    func testParseIPv4RejectsEmptyList() {
        XCTAssertEqual(failure("ipv4:"), #"invalid target "ipv4:": the address list is empty"#)
    }

    func testParseIPv4RejectsEmptyElement() {
        XCTAssertTrue(failure("ipv4:1.2.3.4:80,,1.2.3.5:80").contains("address 2 of the list is empty"))
        XCTAssertTrue(failure("ipv4:1.2.3.4:80,").contains("address 2 of the list is empty"))
    }

    func testParseIPv4ReportsTheBadElementOfAList() {
        XCTAssertTrue(failure("ipv4:1.2.3.4:80,1.2.3.999:80").contains(#""1.2.3.999" is not an IPv4 address"#))
    }

    // MARK: ipv6

    func testParseIPv6BracketedAddresses() {
        XCTAssertEqual(parse("ipv6:[::1]:50051,[2001:db8::1]:443"),
                       .addresses([.ipv6(host: "::1", port: 50051), .ipv6(host: "2001:db8::1", port: 443)]))
    }

    func testParseIPv6CanonicalizesAddressText() {
        XCTAssertEqual(parse("ipv6:[0:0:0:0:0:0:0:1]:80"), .addresses([.ipv6(host: "::1", port: 80)]))
        XCTAssertEqual(parse("ipv6:[2001:DB8::A]:80"), .addresses([.ipv6(host: "2001:db8::a", port: 80)]))
    }

    func testParseIPv6RequiresBrackets() {
        XCTAssertTrue(failure("ipv6:::1:80").contains("must be written as [ADDRESS]:PORT"))
    }

    func testParseIPv6RejectsMissingPort() {
        XCTAssertTrue(failure("ipv6:[::1]").contains(#"missing port in "[::1]""#))
        XCTAssertTrue(failure("ipv6:[::1]:").contains("missing port"))
    }

    func testParseIPv6RejectsBadAddress() {
        XCTAssertTrue(failure("ipv6:[::g]:80").contains(#""::g" is not an IPv6 address"#))
        XCTAssertTrue(failure("ipv6:[1.2.3.4]:80").contains(#""1.2.3.4" is not an IPv6 address"#))
    }

    func testParseIPv6RejectsBadPortAndGarbage() {
        XCTAssertTrue(failure("ipv6:[::1]:99999").contains(#""99999" is not a valid port"#))
        XCTAssertTrue(failure("ipv6:[::1]x80").contains("must be written as [ADDRESS]:PORT"))
        XCTAssertTrue(failure("ipv6:[::1:80").contains("must be written as [ADDRESS]:PORT"))
    }

    func testParseIPv6RejectsEmptyListAndElements() {
        XCTAssertTrue(failure("ipv6:").contains("the address list is empty"))
        XCTAssertTrue(failure("ipv6:,[::1]:80").contains("address 1 of the list is empty"))
    }

    // MARK: unix

    func testParseUnixRelativeAndAbsolutePaths() {
        XCTAssertEqual(parse("unix:relative/sock"), .addresses([.unix(path: "relative/sock")]))
        XCTAssertEqual(parse("unix:/tmp/x.sock"), .addresses([.unix(path: "/tmp/x.sock")]))
    }

    func testParseUnixTripleSlashForm() {
        XCTAssertEqual(parse("unix:///tmp/x.sock"), .addresses([.unix(path: "/tmp/x.sock")]))
    }

    func testParseUnixRejectsEmptyPath() {
        XCTAssertTrue(failure("unix:").contains("the socket path is empty"))
    }

    func testParseUnixRejectsAuthority() {
        XCTAssertTrue(failure("unix://host/tmp/x").contains("unix:///ABSOLUTE/PATH"))
        XCTAssertTrue(failure("unix://").contains("unix:///ABSOLUTE/PATH"))
    }

    func testParseUnixAcceptsLongestPathAndRejectsLonger() {
        let longest = "/" + String(repeating: "a", count: 106)
        XCTAssertEqual(parse("unix:" + longest), .addresses([.unix(path: longest)]))
        XCTAssertTrue(failure("unix:" + longest + "a").contains("108 bytes long"))
    }

    func testParseManual() {
        XCTAssertEqual(parse("manual:"), .manual)
        XCTAssertEqual(parse("MANUAL:"), .manual)
        XCTAssertEqual(parse("manual:///anything"), .manual)
    }

    func testUnknownSchemeListsEverySupportedOne() {
        XCTAssertTrue(failure("foo://x/y").contains("(supported: dns, ipv4, ipv6, unix, manual)"), failure("foo://x/y"))
    }

    func testParseUnixAbstractIsNotSupported() {
        XCTAssertTrue(failure("unix-abstract:name").contains(#"scheme "unix-abstract" is not supported"#))
    }

    func testParseMarksKnownButUnimplementedSchemesAsUnsupported() {
        for text in ["unix-abstract:name", "vsock:2:50051", "xds:///svc", "google-c2p:///svc"] {
            XCTAssertThrowsError(try Target.parse(text)) { error in
                XCTAssertTrue((error as! TargetParseError).isUnsupported, text)
            }
        }
        for text in ["ipv4:1.2.3:80", "foo://x/y", ""] {
            XCTAssertThrowsError(try Target.parse(text)) { error in
                XCTAssertFalse((error as! TargetParseError).isUnsupported, text)
            }
        }
    }

    // MARK: dns

    func testParseDNSWithEmptyAuthority() {
        XCTAssertEqual(parse("dns:///backend.test:50051"), .dns(server: nil, host: "backend.test", port: 50051))
    }

    func testParseDNSWithServer() {
        XCTAssertEqual(parse("dns://127.0.0.1:5353/backend.test:50051"),
                       .dns(server: "127.0.0.1:5353", host: "backend.test", port: 50051))
        XCTAssertEqual(parse("dns://[::1]:53/backend.test"), .dns(server: "[::1]:53", host: "backend.test", port: 443))
        XCTAssertEqual(parse("dns://8.8.8.8/example.com:80"), .dns(server: "8.8.8.8", host: "example.com", port: 80))
    }

    func testParseDNSWithoutSlashes() {
        XCTAssertEqual(parse("dns:backend.test:8080"), .dns(server: nil, host: "backend.test", port: 8080))
    }

    func testParseDNSDefaultsPortTo443() {
        XCTAssertEqual(parse("dns:///backend.test"), .dns(server: nil, host: "backend.test", port: 443))
    }

    func testParseDNSBracketedIPv6Host() {
        XCTAssertEqual(parse("dns:///[::1]:50051"), .dns(server: nil, host: "::1", port: 50051))
    }

    func testParseDNSSchemeIsCaseInsensitive() {
        XCTAssertEqual(parse("DNS:///backend.test:1"), .dns(server: nil, host: "backend.test", port: 1))
    }

    func testParseDNSRejectsMissingHost() {
        XCTAssertTrue(failure("dns:///").contains("missing host"))
        XCTAssertTrue(failure("dns://1.2.3.4:53").contains("missing host"))
        XCTAssertTrue(failure("dns:").contains("missing host"))
        XCTAssertTrue(failure("dns:///:80").contains("missing host"))
    }

    func testParseDNSRejectsNonIPServer() {
        XCTAssertTrue(failure("dns://resolver.test/backend:80").contains(#"DNS server "resolver.test" must be"#))
        XCTAssertTrue(failure("dns://1.2.3.4:0/backend:80").contains(#"DNS server port "0""#))
    }

    func testParseDNSRejectsBadPort() {
        XCTAssertTrue(failure("dns:///backend.test:").contains("missing port"))
        XCTAssertTrue(failure("dns:///backend.test:70000").contains(#""70000" is not a valid port"#))
    }

    func testParseDNSRejectsInvalidHostName() {
        XCTAssertTrue(failure("dns:///bad host:80").contains(#""bad host" is not a valid host name"#))
        XCTAssertTrue(failure("dns:///a/b:80").contains(#""a/b" is not a valid host name"#))
    }

    // MARK: bare host

    func testParseBareHostPortIsDNS() {
        XCTAssertEqual(parse("localhost:50051"), .dns(server: nil, host: "localhost", port: 50051))
    }

    func testParseBareHostDefaultsPortTo443() {
        XCTAssertEqual(parse("example.com"), .dns(server: nil, host: "example.com", port: 443))
    }

    func testParseBareBracketedIPv6() {
        XCTAssertEqual(parse("[::1]:50051"), .dns(server: nil, host: "::1", port: 50051))
        XCTAssertEqual(parse("[::1]"), .dns(server: nil, host: "::1", port: 443))
    }

    func testParseBareUnbracketedIPv6HasNoPort() {
        XCTAssertEqual(parse("::1"), .dns(server: nil, host: "::1", port: 443))
    }

    func testParseBareIPv4IsDNSLiteral() {
        XCTAssertEqual(parse("10.1.2.3:9"), .dns(server: nil, host: "10.1.2.3", port: 9))
    }

    func testParseBareRejectsBadPort() {
        XCTAssertTrue(failure("localhost:abc").contains(#""abc" is not a valid port"#))
        XCTAssertTrue(failure("[::1]:0").contains(#""0" is not a valid port"#))
        XCTAssertTrue(failure("[::1]80").contains("expected :PORT"))
    }

    // MARK: errors

    func testParseRejectsEmptyString() {
        XCTAssertEqual(failure(""), #"invalid target "": the target is empty"#)
    }

    func testParseRejectsUnknownScheme() {
        XCTAssertTrue(failure("foo://x").contains(#"unknown scheme "foo""#))
        XCTAssertTrue(failure("http://example.com:80").contains(#"unknown scheme "http""#))
    }

    func testParseErrorQuotesControlCharacters() {
        XCTAssertTrue(failure("ipv4:1.2.3.4:8\n0").contains(#""8\x0A0""#))
    }
}
