import XCTest
@testable import LBCCore

final class HealthCheckCodecTests: XCTestCase {
    func testRequestEncodesTheServiceAsField1() {
        XCTAssertEqual(HealthCheckCodec.request(service: "a.B"), [0x0A, 3, 0x61, 0x2E, 0x42])
        // proto3: the default value is not written.
        XCTAssertEqual(HealthCheckCodec.request(service: ""), [])
        // A length of 300 takes a two-byte varint (0xAC 0x02).
        let long = String(repeating: "s", count: 300)
        let encoded = HealthCheckCodec.request(service: long)
        XCTAssertEqual(Array(encoded.prefix(3)), [0x0A, 0xAC, 0x02])
        XCTAssertEqual(encoded.count, 303)
    }

    func testStatusOfEachServingStatus() throws {
        XCTAssertEqual(try HealthCheckCodec.status(of: [UInt8]()), 0)  // absent: UNKNOWN
        for value: UInt8 in 0...3 {
            XCTAssertEqual(try HealthCheckCodec.status(of: [0x08, value]), Int32(value))
        }
        XCTAssertEqual(EndpointHealth(servingStatus: 1), .serving)
        for other: Int32 in [0, 2, 3, 4, -1, 99] {
            XCTAssertEqual(EndpointHealth(servingStatus: other), .notServing, "\(other)")
        }
    }

    func testStatusSkipsUnknownFieldsAndTakesTheLastOccurrence() throws {
        let message: [UInt8] = [
            0x08, 0x01,                          // status = SERVING
            0x10, 0xFF, 0x01,                    // field 2 varint
            0x19, 1, 2, 3, 4, 5, 6, 7, 8,        // field 3 fixed64
            0x22, 2, 0x41, 0x42,                 // field 4 bytes
            0x2D, 1, 2, 3, 4,                    // field 5 fixed32
            0x08, 0x02,                          // status = NOT_SERVING (last wins)
        ]
        XCTAssertEqual(try HealthCheckCodec.status(of: message), 2)
    }

    func testNegativeEnumValueIsSignExtended() throws {
        // -1 as an int32 enum: ten bytes, 0xFF×9 then 0x01.
        let message: [UInt8] = [0x08, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01]
        XCTAssertEqual(try HealthCheckCodec.status(of: message), -1)
    }

    func testMalformedMessagesThrow() {
        let bad: [[UInt8]] = [
            [0x08],                              // truncated varint value
            [0x08, 0x80],                        // varint without its last byte
            [0x0A, 0x01, 0x01],                  // field 1 length-delimited
            [0x22, 0x05, 0x41],                  // length past the end
            [0x19, 1, 2, 3],                     // truncated fixed64
            [0x2D, 1],                           // truncated fixed32
            [0x0B],                              // group start (wire type 3)
            [0x0C],                              // group end (wire type 4)
            [0x0E],                              // wire type 6
            [0x00, 0x01],                        // field number 0
            [0x08] + [UInt8](repeating: 0xFF, count: 10) + [0x01],  // 11-byte varint
            [0x08] + [UInt8](repeating: 0xFF, count: 9) + [0x02],   // 10th byte beyond 64 bits
        ]
        for message in bad {
            XCTAssertThrowsError(try HealthCheckCodec.status(of: message), "\(message)")
        }
    }

    func testRequestRoundTripsThroughTheSkipper() throws {
        // A request parsed as a response: field 1 is length-delimited there, so it is refused,
        // which shows the length prefix is read right.
        XCTAssertThrowsError(try HealthCheckCodec.status(of: HealthCheckCodec.request(service: "svc")))
    }
}
