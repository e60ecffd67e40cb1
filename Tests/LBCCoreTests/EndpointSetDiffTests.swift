import XCTest
@testable import LBCCore

final class EndpointSetDiffTests: XCTestCase {
    private let a = EndpointAddress.ipv4(host: "10.0.0.1", port: 80)
    private let b = EndpointAddress.ipv4(host: "10.0.0.2", port: 80)
    private let c = EndpointAddress.ipv6(host: "::1", port: 80)
    private let d = EndpointAddress.unix(path: "/tmp/d.sock")

    func testDiffWhenBothEmptyIsEmpty() {
        let diff = EndpointSetDiff(current: [], next: [])
        XCTAssertTrue(diff.isEmpty)
        XCTAssertEqual(diff.added, [])
        XCTAssertEqual(diff.removed, [])
        XCTAssertEqual(diff.kept, [])
    }

    func testDiffWhenEndpointsAreAdded() {
        let diff = EndpointSetDiff(current: [a], next: [c, a, b])
        XCTAssertEqual(diff.added, [c, b])
        XCTAssertEqual(diff.removed, [])
        XCTAssertEqual(diff.kept, [a])
        XCTAssertFalse(diff.isEmpty)
    }

    func testDiffWhenEndpointsAreRemoved() {
        let diff = EndpointSetDiff(current: [a, b, c], next: [b])
        XCTAssertEqual(diff.added, [])
        XCTAssertEqual(diff.removed, [a, c])
        XCTAssertEqual(diff.kept, [b])
        XCTAssertFalse(diff.isEmpty)
    }

    func testDiffWhenNextIsEmptyRemovesEverything() {
        let diff = EndpointSetDiff(current: [a, b], next: [])
        XCTAssertEqual(diff.removed, [a, b])
        XCTAssertEqual(diff.kept, [])
        XCTAssertEqual(diff.added, [])
    }

    func testDiffWhenCurrentIsEmptyAddsEverything() {
        let diff = EndpointSetDiff(current: [], next: [d, a])
        XCTAssertEqual(diff.added, [d, a])
        XCTAssertEqual(diff.removed, [])
        XCTAssertEqual(diff.kept, [])
    }

    func testDiffWhenOnlyTheOrderChangesIsEmptyAndKeepsCurrentOrder() {
        let diff = EndpointSetDiff(current: [a, b, c], next: [c, a, b])
        XCTAssertTrue(diff.isEmpty)
        XCTAssertEqual(diff.kept, [a, b, c])
    }

    func testDiffWhenAddedAndRemovedAtOnce() {
        let diff = EndpointSetDiff(current: [a, b], next: [c, b, d])
        XCTAssertEqual(diff.added, [c, d])
        XCTAssertEqual(diff.removed, [a])
        XCTAssertEqual(diff.kept, [b])
    }

    func testDuplicatesInNextCountOnce() {
        let diff = EndpointSetDiff(current: [a], next: [b, a, b, a, c, b])
        XCTAssertEqual(diff.added, [b, c])
        XCTAssertEqual(diff.kept, [a])
        XCTAssertEqual(diff.removed, [])
        XCTAssertTrue(EndpointSetDiff(current: [a, b], next: [a, a, b, b]).isEmpty)
    }

    func testDuplicatesInCurrentAppearOnce() {
        let diff = EndpointSetDiff(current: [a, b, a, b], next: [b])
        XCTAssertEqual(diff.removed, [a])
        XCTAssertEqual(diff.kept, [b])
    }

    func testIPv6SpellingsAreCompared() {
        let next = [EndpointAddress.ip("0:0:0:0:0:0:0:1", port: 80)!]
        XCTAssertTrue(EndpointSetDiff(current: [c], next: next).isEmpty)
        let otherPort = EndpointAddress.ipv6(host: "::1", port: 81)
        let diff = EndpointSetDiff(current: [c], next: [otherPort])
        XCTAssertEqual(diff.added, [otherPort])
        XCTAssertEqual(diff.removed, [c])
    }

    func testLargeSetsAreDiffedCorrectly() {
        // 40 000 × 40 000 would be 1.6e9 comparisons if the diff were quadratic.
        func address(_ i: Int) -> EndpointAddress {
            .ipv4(host: "10.\(i / 65536 % 256).\(i / 256 % 256).\(i % 256)", port: 80)
        }
        let current = (0..<40_000).map(address)
        let next = (20_000..<60_000).map(address)
        let diff = EndpointSetDiff(current: current, next: next)
        XCTAssertEqual(diff.removed, Array(current[..<20_000]))
        XCTAssertEqual(diff.kept, Array(current[20_000...]))
        XCTAssertEqual(diff.added, Array(next[20_000...]))
    }
}
