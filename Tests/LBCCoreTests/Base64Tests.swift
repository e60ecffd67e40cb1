import XCTest
@testable import LBCCore

final class Base64Tests: XCTestCase {
    /// RFC 4648 §10 test vectors.
    private let vectors: [(String, String)] = [
        ("", ""), ("f", "Zg=="), ("fo", "Zm8="), ("foo", "Zm9v"),
        ("foob", "Zm9vYg=="), ("fooba", "Zm9vYmE="), ("foobar", "Zm9vYmFy"),
    ]

    func testEncodeRFC4648Vectors() {
        for (plain, encoded) in vectors {
            XCTAssertEqual(Base64.encode(Array(plain.utf8)), encoded, plain)
        }
    }

    func testDecodeRFC4648Vectors() {
        for (plain, encoded) in vectors {
            XCTAssertEqual(Base64.decode(encoded), Array(plain.utf8), encoded)
        }
    }

    func testDecodeUnpaddedVectors() {
        XCTAssertEqual(Base64.decode("Zg"), Array("f".utf8))
        XCTAssertEqual(Base64.decode("Zm8"), Array("fo".utf8))
        XCTAssertEqual(Base64.decode("Zm9vYg"), Array("foob".utf8))
        XCTAssertEqual(Base64.decode("Zm9vYmE"), Array("fooba".utf8))
    }

    func testEncodeUsesPlusAndSlash() {
        XCTAssertEqual(Base64.encode([0xFB, 0xFF, 0xBF]), "+/+/")
        XCTAssertEqual(Base64.decode("+/+/"), [0xFB, 0xFF, 0xBF])
    }

    func testRoundTripAllByteValues() {
        let bytes = (0...255).map { UInt8($0) }
        for length in [0, 1, 2, 3, 4, 5, 254, 255, 256] {
            let slice = Array(bytes.prefix(length))
            XCTAssertEqual(Base64.decode(Base64.encode(slice)), slice, "length \(length)")
        }
    }

    func testDecodeRejectsInvalidInput() {
        for bad in ["Z", "Zm9vY", "Zm9v!", "Zm 9v", "Zm9v\n", "Zg=", "Z===", "====", "Zg==Zg==", "=Zg=",
                    "Zm-_", "Zm9vYg==="] {
            XCTAssertNil(Base64.decode(bad), bad)
        }
    }

    func testDecodeFromRawBytes() {
        XCTAssertEqual(withBytes("Zm9vYmFy") { Base64.decode($0) }, Array("foobar".utf8))
        XCTAssertEqual([UInt8]([1, 2, 3]).withUnsafeBytes { Base64.encode($0) }, "AQID")
    }
}
