import XCTest
@testable import LBCCore

final class EndpointAddressTests: XCTestCase {
    func testDescriptionOfEachKind() {
        XCTAssertEqual(EndpointAddress.ipv4(host: "127.0.0.1", port: 50051).description, "127.0.0.1:50051")
        XCTAssertEqual(EndpointAddress.ipv6(host: "::1", port: 50051).description, "[::1]:50051")
        XCTAssertEqual(EndpointAddress.unix(path: "/tmp/x.sock").description, "unix:/tmp/x.sock")
    }

    func testAuthorityIsLocalhostForUnixSockets() {
        XCTAssertEqual(EndpointAddress.unix(path: "/tmp/x.sock").authority, "localhost")
        XCTAssertEqual(EndpointAddress.ipv6(host: "::1", port: 8).authority, "[::1]:8")
        XCTAssertEqual(EndpointAddress.ipv4(host: "1.2.3.4", port: 8).authority, "1.2.3.4:8")
    }

    func testIPFactoryDetectsFamilyAndRejectsNames() {
        XCTAssertEqual(EndpointAddress.ip("10.0.0.1", port: 1), .ipv4(host: "10.0.0.1", port: 1))
        XCTAssertEqual(EndpointAddress.ip("::FFFF:1.2.3.4", port: 1), .ipv6(host: "::ffff:1.2.3.4", port: 1))
        XCTAssertNil(EndpointAddress.ip("example.com", port: 1))
        XCTAssertNil(EndpointAddress.ip("01.2.3.4", port: 1))
    }

    func testEqualAddressesHashTheSame() {
        let set: Set<EndpointAddress> = [.ipv4(host: "1.2.3.4", port: 80), .ipv4(host: "1.2.3.4", port: 80),
                                         .ipv4(host: "1.2.3.4", port: 81)]
        XCTAssertEqual(set.count, 2)
    }
}
