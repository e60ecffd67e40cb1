import XCTest
@testable import LBCCore

final class StatusCodeTests: XCTestCase {
    func testRawValuesCoverZeroToSixteen() {
        XCTAssertEqual(StatusCode.allCases.map(\.rawValue), Array(0...16))
        XCTAssertEqual(StatusCode.unauthenticated.rawValue, 16)
        XCTAssertEqual(StatusCode.internalError.rawValue, 13)
    }

    func testNamesMatchTheGRPCSpelling() {
        XCTAssertEqual(StatusCode.ok.name, "OK")
        XCTAssertEqual(StatusCode.cancelled.name, "CANCELLED")
        XCTAssertEqual(StatusCode.invalidArgument.name, "INVALID_ARGUMENT")
        XCTAssertEqual(StatusCode.deadlineExceeded.name, "DEADLINE_EXCEEDED")
        XCTAssertEqual(StatusCode.internalError.name, "INTERNAL")
        XCTAssertEqual(StatusCode.unavailable.name, "UNAVAILABLE")
        XCTAssertEqual(StatusCode.unauthenticated.name, "UNAUTHENTICATED")
        XCTAssertEqual(Set(StatusCode.allCases.map(\.name)).count, 17)
    }

    func testHTTPStatusMapping() {
        XCTAssertEqual(HTTPStatusMapping.statusCode(forHTTPStatus: 400), .internalError)
        XCTAssertEqual(HTTPStatusMapping.statusCode(forHTTPStatus: 401), .unauthenticated)
        XCTAssertEqual(HTTPStatusMapping.statusCode(forHTTPStatus: 403), .permissionDenied)
        XCTAssertEqual(HTTPStatusMapping.statusCode(forHTTPStatus: 404), .unimplemented)
        for status in [429, 502, 503, 504] {
            XCTAssertEqual(HTTPStatusMapping.statusCode(forHTTPStatus: status), .unavailable, "\(status)")
        }
        for status in [200, 500, 405, 501, 0] {
            XCTAssertEqual(HTTPStatusMapping.statusCode(forHTTPStatus: status), .unknown, "\(status)")
        }
    }

    func testGRPCStatusHeaderParsing() {
        XCTAssertEqual(withBytes("0") { StatusCode(grpcStatusHeader: $0) }, .ok)
        XCTAssertEqual(withBytes("14") { StatusCode(grpcStatusHeader: $0) }, .unavailable)
        XCTAssertEqual(withBytes("99") { StatusCode(grpcStatusHeader: $0) }, .unknown)
        XCTAssertNil(withBytes("") { StatusCode(grpcStatusHeader: $0) })
        XCTAssertNil(withBytes("1a") { StatusCode(grpcStatusHeader: $0) })
        XCTAssertNil(withBytes("0014") { StatusCode(grpcStatusHeader: $0) })
    }
}
