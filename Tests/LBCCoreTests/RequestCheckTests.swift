import XCTest
@testable import LBCCore

final class RequestCheckTests: XCTestCase {
    private func problem(_ body: () throws(RequestProblem) -> Void) -> RequestProblem? {
        do throws(RequestProblem) {
            try body()
            return nil
        } catch {
            return error
        }
    }

    func testMethodRules() {
        XCTAssertNil(problem { () throws(RequestProblem) in try RequestCheck.method("/pkg.Svc/Do") })
        for bad in ["", "/", "pkg.Svc/Do", "/pkg.Svc/Do\r\nX: 1", "/a b", "/caf\u{e9}"] {
            guard case .invalidMethod(let text)? = problem({ () throws(RequestProblem) in try RequestCheck.method(bad) }) else {
                return XCTFail("\(bad.debugDescription) was accepted")
            }
            XCTAssertTrue(text.hasPrefix("method "), text)
        }
    }

    func testMessageLimitIsInclusive() {
        XCTAssertNil(problem { () throws(RequestProblem) in try RequestCheck.message(length: 4096, limit: 4096) })
        XCTAssertNil(problem { () throws(RequestProblem) in try RequestCheck.message(length: 0, limit: 0) })
        let refused = problem { () throws(RequestProblem) in try RequestCheck.message(length: 4097, limit: 4096) }
        XCTAssertEqual(refused, .messageTooLarge(length: 4097, limit: 4096))
        XCTAssertEqual(refused?.message, "message of 4097 bytes exceeds max_send_message_size (4096)")
    }
}
