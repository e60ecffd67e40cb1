import XCTest
@testable import LBCCore

final class WeightedRoundRobinTests: XCTestCase {
    private func make(_ weights: [Int]) -> WeightedRoundRobinBalancer {
        let b = WeightedRoundRobinBalancer()
        b.endpointsChanged(added: Array(weights.indices), removed: [], nowNs: 0)
        for (slot, w) in weights.enumerated() {
            b.weightChanged(slot, weight: w)
            b.connectivityChanged(slot, pickable: true)
        }
        return b
    }

    private func counts(_ b: WeightedRoundRobinBalancer, _ picks: Int, slots: Int) -> [Int] {
        var c = [Int](repeating: 0, count: slots)
        for _ in 0..<picks { c[b.pick(nowNs: 0)!] += 1 }
        return c
    }

    func testPicksInProportionToWeights() {
        XCTAssertEqual(counts(make([1, 2, 3]), 600, slots: 3), [100, 200, 300])
    }

    func testEqualWeightsAreRoundRobin() {
        let b = make([1, 1, 1])
        let picks = (0..<9).map { _ in b.pick(nowNs: 0)! }
        for i in 0..<7 { XCTAssertEqual(Set(picks[i..<(i + 3)]).count, 3, "\(picks)") }
    }

    func testHeavyEndpointIsInterleavedNotBurst() {
        // Weight 3 vs 1: the heavy one is spread out (at most weight + 1 in a row,
        // where deadlines meet), not served as one burst per round.
        let b = make([3, 1])
        let picks = (0..<40).map { _ in b.pick(nowNs: 0)! }
        var run = 0, longest = 0
        for p in picks { run = p == 0 ? run + 1 : 0; longest = max(longest, run) }
        XCTAssertLessThanOrEqual(longest, 4, "\(picks)")
        XCTAssertEqual(picks.filter { $0 == 1 }.count, 10)
    }

    func testUnpickableAndRemovedSlotsAreSkippedAndComeBack() {
        let b = make([1, 1, 2])
        b.connectivityChanged(2, pickable: false)
        XCTAssertEqual(counts(b, 100, slots: 3), [50, 50, 0])
        b.connectivityChanged(2, pickable: true)
        XCTAssertEqual(counts(b, 400, slots: 3), [100, 100, 200])
        b.endpointsChanged(added: [], removed: [0], nowNs: 0)
        XCTAssertEqual(counts(b, 300, slots: 3), [0, 100, 200])
    }

    func testWeightChangeTakesEffect() {
        let b = make([1, 1])
        b.weightChanged(1, weight: 4)
        XCTAssertEqual(counts(b, 500, slots: 2), [100, 400])
    }

    func testManyStateChangesKeepTheHeapSmall() {
        let b = make(Array(repeating: 1, count: 100))
        for round in 0..<1000 {
            b.connectivityChanged(round % 100, pickable: false)
            b.connectivityChanged(round % 100, pickable: true)
            _ = b.pick(nowNs: 0)
        }
        XCTAssertEqual(counts(b, 1000, slots: 100).reduce(0, +), 1000)
        XCTAssertNil(make([]).pick(nowNs: 0))
    }

    func testParseWeightedAddresses() throws {
        let (a, w) = try EndpointAddress.parseWeighted("10.0.0.1:50051;weight=3")
        XCTAssertEqual(a, .ipv4(host: "10.0.0.1", port: 50051))
        XCTAssertEqual(w, 3)
        XCTAssertNil(try EndpointAddress.parseWeighted("[::1]:80").weight)
        for bad in ["10.0.0.1:1;weight=0", "10.0.0.1:1;weight=", "10.0.0.1:1;weight=x", "10.0.0.1:1;w=2",
                    "10.0.0.1:1;weight=1000001", "10.0.0.1:1;weight=-1", ";weight=2", "10.0.0.1:1;weight=2;x"] {
            XCTAssertThrowsError(try EndpointAddress.parseWeighted(bad), bad)
        }
    }
}
