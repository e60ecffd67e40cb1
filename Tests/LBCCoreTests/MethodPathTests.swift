import XCTest
@testable import LBCCore

final class MethodPathTests: XCTestCase {
    func testAcceptsGRPCPaths() {
        XCTAssertNil(MethodPath.problem("/pkg.Svc/Method"))
        XCTAssertNil(MethodPath.problem("/grpc.testing.TestService/UnaryCall"))
        XCTAssertNil(MethodPath.problem("/x"))
    }

    func testRejectsMissingSlash() {
        XCTAssertEqual(MethodPath.problem(""), "method \"\" must look like \"/package.Service/Method\"")
        XCTAssertNotNil(MethodPath.problem("/"))
        XCTAssertNotNil(MethodPath.problem("pkg.Svc/Method"))
    }

    func testRejectsHeaderInjectionBytes() {
        for bad in ["/a.B/C\r\nx-evil: 1", "/a.B/C\n", "/a.B/C\r", "/a.B/C\u{0}", "/a B/C", "/a.B/C\u{7F}", "/a.B/Cé",
                    "/a.B/C\t"] {
            let problem = MethodPath.problem(bad)
            XCTAssertNotNil(problem, bad.debugDescription)
            XCTAssertTrue(problem?.contains("allowed: visible ASCII") ?? false, problem ?? "")
        }
        XCTAssertEqual(MethodPath.problem("/a.B/C\r\nx"),
                       "method \"/a.B/C\\x0D\\x0Ax\" has byte 0x0D at offset 6 (allowed: visible ASCII 0x21-0x7E)")
    }
}
