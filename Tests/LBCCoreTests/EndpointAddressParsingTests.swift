import XCTest
@testable import LBCCore

final class EndpointAddressParsingTests: XCTestCase {
    private func parse(_ text: String, defaultPort: UInt16? = nil,
                       file: StaticString = #filePath, line: UInt = #line) -> EndpointAddress? {
        do {
            return try EndpointAddress.parse(text, defaultPort: defaultPort)
        } catch {
            XCTFail("parse(\(text)) threw \(error.message)", file: file, line: line)
            return nil
        }
    }

    private func failure(_ text: String, defaultPort: UInt16? = nil,
                         file: StaticString = #filePath, line: UInt = #line) -> String {
        thrownError({ () throws(TargetParseError) -> EndpointAddress in
            try EndpointAddress.parse(text, defaultPort: defaultPort)
        }, file: file, line: line)?.message ?? ""
    }

    // MARK: valid

    func testParseIPv4WithPort() {
        XCTAssertEqual(parse("1.2.3.4:80"), .ipv4(host: "1.2.3.4", port: 80))
        XCTAssertEqual(parse("127.0.0.2:65535"), .ipv4(host: "127.0.0.2", port: 65535))
    }

    func testParseBracketedIPv6WithPortIsCanonicalized() {
        XCTAssertEqual(parse("[::1]:80"), .ipv6(host: "::1", port: 80))
        XCTAssertEqual(parse("[::FFFF:1.2.3.4]:443"), .ipv6(host: "::ffff:1.2.3.4", port: 443))
        XCTAssertEqual(parse("[2001:DB8:0:0:0:0:0:1]:1"), .ipv6(host: "2001:db8::1", port: 1))
    }

    func testParseUnixPaths() {
        XCTAssertEqual(parse("unix:/tmp/x.sock"), .unix(path: "/tmp/x.sock"))
        XCTAssertEqual(parse("unix:///run/app.sock"), .unix(path: "/run/app.sock"))
        XCTAssertEqual(parse("UNIX:/tmp/x.sock"), .unix(path: "/tmp/x.sock"))
        XCTAssertEqual(parse("unix:relative.sock"), .unix(path: "relative.sock"))
    }

    func testParseUsesDefaultPortOnlyWhenThePortIsMissing() {
        XCTAssertEqual(parse("1.2.3.4", defaultPort: 443), .ipv4(host: "1.2.3.4", port: 443))
        XCTAssertEqual(parse("[::1]", defaultPort: 443), .ipv6(host: "::1", port: 443))
        XCTAssertEqual(parse("::1", defaultPort: 443), .ipv6(host: "::1", port: 443))
        XCTAssertEqual(parse("1.2.3.4:80", defaultPort: 443), .ipv4(host: "1.2.3.4", port: 80))
        XCTAssertEqual(parse("[::1]:80", defaultPort: 443), .ipv6(host: "::1", port: 80))
        XCTAssertEqual(parse("unix:/tmp/x.sock", defaultPort: 443), .unix(path: "/tmp/x.sock"))
    }

    func testParsedAddressesRoundTripThroughDescription() {
        for address: EndpointAddress in [.ipv4(host: "10.0.0.1", port: 1), .ipv6(host: "fe80::1", port: 50051),
                                         .unix(path: "/tmp/a b.sock")] {
            XCTAssertEqual(parse(address.description), address)
        }
    }

    // MARK: invalid

    func testParseNamesTheAddressInErrors() {
        XCTAssertEqual(failure("1.2.3:80"), #"invalid address "1.2.3:80": "1.2.3" is not an IPv4 address"#)
        XCTAssertEqual(failure(""), #"invalid address "": the address is empty"#)
    }

    func testParseRejectsMissingPortWithoutDefault() {
        XCTAssertEqual(failure("1.2.3.4"), #"invalid address "1.2.3.4": missing port in "1.2.3.4""#)
        XCTAssertEqual(failure("[::1]"), #"invalid address "[::1]": missing port in "[::1]""#)
        XCTAssertTrue(failure("::1").contains(#"missing port in "::1" (write [ADDRESS]:PORT)"#))
        XCTAssertTrue(failure("1.2.3.4:", defaultPort: 443).contains(#"missing port in "1.2.3.4:""#))
        XCTAssertTrue(failure("[::1]:", defaultPort: 443).contains(#"missing port in "[::1]:""#))
    }

    func testParseRejectsHostNames() {
        XCTAssertTrue(failure("localhost:80").contains(#""localhost" is not an IPv4 address"#))
        XCTAssertTrue(failure("example.com", defaultPort: 80).contains(#""example.com" is not an IPv4 address"#))
    }

    func testParseRejectsBadPorts() {
        XCTAssertTrue(failure("1.2.3.4:0").contains(#""0" is not a valid port (1-65535)"#))
        XCTAssertTrue(failure("1.2.3.4:65536").contains(#""65536" is not a valid port"#))
        XCTAssertTrue(failure("[::1]:http").contains(#""http" is not a valid port"#))
        XCTAssertTrue(failure("1.2.3.4: 80").contains(#"" 80" is not a valid port"#))
    }

    func testParseRejectsMalformedIPv6() {
        XCTAssertTrue(failure("[zz::1]:80").contains(#""zz::1" is not an IPv6 address"#))
        XCTAssertTrue(failure("[::1]x80").contains(#""[::1]x80" must be written as [ADDRESS]:PORT"#))
        XCTAssertTrue(failure("[::1:80").contains("must be written as [ADDRESS]:PORT"))
        XCTAssertTrue(failure("::1:80:zz").contains("is neither IPV4:PORT nor [IPV6]:PORT"))
    }

    func testParseRejectsListsAndSchemes() {
        XCTAssertTrue(failure("1.2.3.4:80,1.2.3.5:80").hasPrefix(#"invalid address "1.2.3.4:80,1.2.3.5:80": "#))
        XCTAssertTrue(failure("ipv4:1.2.3.4:80").hasPrefix(#"invalid address "ipv4:1.2.3.4:80": "#))
        XCTAssertTrue(failure("dns:///svc:80").hasPrefix(#"invalid address "dns:///svc:80": "#))
    }

    func testParseRejectsBadUnixPaths() {
        XCTAssertEqual(failure("unix:"), #"invalid address "unix:": the socket path is empty"#)
        XCTAssertTrue(failure("unix://host/x").contains("unix:///ABSOLUTE/PATH"))
        XCTAssertTrue(failure("unix:/tmp/a\u{0}b").contains("NUL byte"))
        let long = "/" + String(repeating: "a", count: Target.maxUnixPathLength)
        XCTAssertTrue(failure("unix:" + long).contains("at most \(Target.maxUnixPathLength)"))
        XCTAssertEqual(parse("unix:" + long.dropLast()), .unix(path: String(long.dropLast())))
    }

    func testTargetErrorsStillNameTheTarget() {
        let error = thrownError({ () throws(TargetParseError) -> Target in try Target.parse("ipv4:1.2.3.4") })
        XCTAssertEqual(error?.message, #"invalid target "ipv4:1.2.3.4": missing port in "1.2.3.4""#)
    }
}
