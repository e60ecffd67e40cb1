import XCTest
@testable import LBCCore

final class GRPCTimeoutTests: XCTestCase {
    func testEncodeOneSecond() {
        XCTAssertEqual(GRPCTimeout.encode(nanoseconds: 1_000_000_000), "1000000u")
    }

    func testEncodeKeepsNanosecondsWhenTheyFit() {
        XCTAssertEqual(GRPCTimeout.encode(nanoseconds: 1), "1n")
        XCTAssertEqual(GRPCTimeout.encode(nanoseconds: 99_999_999), "99999999n")
    }

    func testEncodeRoundsUpWhenTooManyDigits() {
        XCTAssertEqual(GRPCTimeout.encode(nanoseconds: 100_000_001), "100001u")
        XCTAssertEqual(GRPCTimeout.encode(nanoseconds: 100_000_000), "100000u")
        XCTAssertEqual(GRPCTimeout.encode(nanoseconds: 123_456_789_012), "123457m")
    }

    func testEncodeHundredHours() {
        let ns: Int64 = 100 * 3600 * 1_000_000_000
        XCTAssertEqual(GRPCTimeout.encode(nanoseconds: ns), "360000S")
    }

    func testEncodeNeverShortensTheDeadline() {
        for ns: Int64 in [1, 999, 100_000_001, 123_456_789_012, 987_654_321_987_654, Int64.max] {
            let text = GRPCTimeout.encode(nanoseconds: ns)
            XCTAssertLessThanOrEqual(text.utf8.count, 9, text)
            guard let decoded = GRPCTimeout.decode(text) else { return XCTFail(text) }
            XCTAssertGreaterThanOrEqual(decoded, ns, text)
        }
    }

    func testEncodeHugeValuesUseHours() {
        XCTAssertEqual(GRPCTimeout.encode(nanoseconds: Int64.max), "2562048H")
    }

    func testEncodeNonPositiveAsOneNanosecond() {
        XCTAssertEqual(GRPCTimeout.encode(nanoseconds: 0), "1n")
        XCTAssertEqual(GRPCTimeout.encode(nanoseconds: -5), "1n")
    }

    func testDecodeEveryUnit() {
        XCTAssertEqual(GRPCTimeout.decode("7n"), 7)
        XCTAssertEqual(GRPCTimeout.decode("7u"), 7_000)
        XCTAssertEqual(GRPCTimeout.decode("7m"), 7_000_000)
        XCTAssertEqual(GRPCTimeout.decode("7S"), 7_000_000_000)
        XCTAssertEqual(GRPCTimeout.decode("7M"), 420_000_000_000)
        XCTAssertEqual(GRPCTimeout.decode("7H"), 25_200_000_000_000)
        XCTAssertEqual(GRPCTimeout.decode("00000000S"), 0)
    }

    func testDecodeRejectsMalformedValues() {
        for bad in ["", "S", "10", "10s", "10x", "123456789S", "-1S", "+1S", " 1S", "1.5S", "1 S"] {
            XCTAssertNil(GRPCTimeout.decode(bad), bad)
        }
    }

    func testDecodeSaturatesOnOverflow() {
        XCTAssertEqual(GRPCTimeout.decode("99999999H"), Int64.max)
    }
}
