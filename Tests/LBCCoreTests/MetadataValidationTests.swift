import XCTest
@testable import LBCCore

final class MetadataValidationTests: XCTestCase {
    private func problem(_ key: String, _ value: String) -> String? {
        withBytes(value) { MetadataValidation.problem(key: key, value: $0) }
    }

    func testValidKeysAndValues() {
        XCTAssertNil(problem("x-request-id", "abc 123 ~!"))
        XCTAssertNil(problem("a.b_c-9", ""))
        XCTAssertNil(problem("trace-bin", "\u{0}\u{FF}\n"))
    }

    func testIsBinaryKey() {
        XCTAssertTrue(MetadataValidation.isBinaryKey("trace-bin"))
        XCTAssertTrue(MetadataValidation.isBinaryKey("-bin"))
        XCTAssertFalse(MetadataValidation.isBinaryKey("trace-bi"))
        XCTAssertFalse(MetadataValidation.isBinaryKey("bin"))
        XCTAssertFalse(MetadataValidation.isBinaryKey("trace_bin"))
    }

    func testRejectsUppercaseKey() {
        XCTAssertEqual(problem("Foo", "x"), #"metadata key "Foo" must be lowercase"#)
    }

    func testRejectsEmptyKey() {
        XCTAssertEqual(problem("", "x"), "metadata key must not be empty")
    }

    func testRejectsInvalidKeyCharacters() {
        XCTAssertEqual(problem("a b", "x"), #"metadata key "a b" contains " " (allowed: 0-9 a-z - _ .)"#)
        XCTAssertNotNil(problem("a/b", "x"))
        XCTAssertNotNil(problem("é", "x"))
    }

    func testRejectsReservedKeys() {
        for key in [":path", ":authority", "grpc-timeout", "grpc-status", "content-type", "te", "user-agent",
                    "host", "connection"] {
            XCTAssertEqual(problem(key, "x"), "metadata key \"\(key)\" is reserved", key)
        }
        XCTAssertNil(problem("grpc", "x"))
        XCTAssertNil(problem("hostname", "x"))
    }

    func testRejectsNonPrintableValueOfASCIIKey() {
        let message = problem("x-id", "ab\ncd")
        XCTAssertNotNil(message)
        XCTAssertTrue(message?.contains("0x0A at offset 2") ?? false, message ?? "")
        XCTAssertNotNil(problem("x-id", "caf\u{E9}"))
        XCTAssertNotNil(problem("x-id", "\u{7F}"))
    }
}
