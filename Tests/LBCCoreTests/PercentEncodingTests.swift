import XCTest
@testable import LBCCore

final class PercentEncodingTests: XCTestCase {
    func testEncodeLeavesPrintableASCIIAlone() {
        XCTAssertEqual(PercentEncoding.encode("Hello, world! ~ {}"), "Hello, world! ~ {}")
    }

    func testEncodeEscapesPercentAndControlBytes() {
        XCTAssertEqual(PercentEncoding.encode("50%\n\t\u{7F}"), "50%25%0A%09%7F")
    }

    func testEncodeUsesUppercaseHexForUTF8() {
        XCTAssertEqual(PercentEncoding.encode("héllo wörld ✓"), "h%C3%A9llo w%C3%B6rld %E2%9C%93")
    }

    func testRoundTripNonASCII() {
        for text in ["héllo wörld ✓", "", "%", "%%25", "日本語 🚀", "a\u{0}b"] {
            XCTAssertEqual(PercentEncoding.decode(PercentEncoding.encode(text)), text)
        }
    }

    func testDecodeAcceptsLowercaseHex() {
        XCTAssertEqual(PercentEncoding.decode("%e2%9c%93"), "✓")
    }

    func testDecodeKeepsInvalidSequencesLiterally() {
        XCTAssertEqual(PercentEncoding.decode("%zz"), "%zz")
        XCTAssertEqual(PercentEncoding.decode("%4"), "%4")
        XCTAssertEqual(PercentEncoding.decode("100%"), "100%")
        XCTAssertEqual(PercentEncoding.decode("%4g%41"), "%4gA")
    }

    func testDecodeRepairsInvalidUTF8() {
        XCTAssertEqual(PercentEncoding.decode("a%FFb"), "a\u{FFFD}b")
        XCTAssertEqual(PercentEncoding.decode("%E2%9C"), "\u{FFFD}")
    }

    func testDecodeFromRawBytes() {
        let decoded = withBytes("ok%20then") { PercentEncoding.decode($0) }
        XCTAssertEqual(decoded, "ok then")
    }

    func testEncodeFromRawBytesMatchesStringForm() {
        let bytes: [UInt8] = [0x41, 0x25, 0xC3, 0xA9]
        XCTAssertEqual(bytes.withUnsafeBytes { PercentEncoding.encode($0) }, "A%25%C3%A9")
    }
}
