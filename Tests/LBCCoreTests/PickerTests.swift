import XCTest
@testable import LBCCore

final class PickerTests: XCTestCase {
    func testRoundRobinVisitsReadyEndpointsInTurn() {
        var picker = Picker(policy: .roundRobin, seed: 1)
        let ready = [true, false, true, true]
        var picks: [Int] = []
        for _ in 0..<6 {
            picks.append(picker.pick(count: 4, isReady: { ready[$0] }, load: { _ in 0 })!)
        }
        XCTAssertEqual(picks, [0, 2, 3, 0, 2, 3])
    }

    func testRoundRobinReturnsNilWhenNothingIsReady() {
        var picker = Picker(policy: .roundRobin, seed: 1)
        XCTAssertNil(picker.pick(count: 3, isReady: { _ in false }, load: { _ in 0 }))
        XCTAssertNil(picker.pick(count: 0, isReady: { _ in true }, load: { _ in 0 }))
    }

    func testPickFirstAlwaysTakesTheFirstReadyEndpoint() {
        var picker = Picker(policy: .pickFirst, seed: 1)
        let ready = [false, true, true]
        for _ in 0..<5 {
            XCTAssertEqual(picker.pick(count: 3, isReady: { ready[$0] }, load: { _ in 0 }), 1)
        }
    }

    func testLeastRequestPrefersTheLessLoadedOfTwo() {
        var picker = Picker(policy: .leastRequest, seed: 42)
        // With two endpoints both are always sampled: the idle one must win every time.
        let load = [10, 0]
        for _ in 0..<100 {
            XCTAssertEqual(picker.pick(count: 2, isReady: { _ in true }, load: { load[$0] }), 1)
        }
    }

    func testLeastRequestSpreadsEvenlyWhenLoadsAreEqual() {
        var picker = Picker(policy: .leastRequest, seed: 7)
        var counts = [0, 0, 0, 0]
        for _ in 0..<4000 {
            counts[picker.pick(count: 4, isReady: { _ in true }, load: { _ in 0 })!] += 1
        }
        for c in counts { XCTAssert((800...1200).contains(c), "uneven spread \(counts)") }
    }

    func testLeastRequestSkipsEndpointsThatAreNotReady() {
        var picker = Picker(policy: .leastRequest, seed: 3)
        let ready = [false, true, false]
        for _ in 0..<50 {
            XCTAssertEqual(picker.pick(count: 3, isReady: { ready[$0] }, load: { _ in 0 }), 1)
        }
    }
}
