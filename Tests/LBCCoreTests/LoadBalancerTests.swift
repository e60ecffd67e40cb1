import XCTest
@testable import LBCCore

/// round_robin, pick_first, least_request and the shared pieces (PickableSet, SplitMix64).
final class LoadBalancerTests: XCTestCase {
    /// A balancer with `count` slots of which `ready` are pickable.
    private func make(_ policy: LBPolicy, count: Int, ready: [Int], seed: UInt64 = 1,
                      choiceCount: Int = 2) -> any LoadBalancer {
        var options = ChannelOptions()
        options.lbPolicy = policy
        options.leastRequestChoiceCount = choiceCount
        let b = LoadBalancers.make(options: options, seed: seed)
        b.endpointsChanged(added: Array(0..<count), removed: [], nowNs: 0)
        for slot in ready { b.connectivityChanged(slot, pickable: true) }
        return b
    }

    func testRegistryMakesTheNamedPolicy() {
        for policy in LBPolicy.allCases {
            var options = ChannelOptions()
            options.lbPolicy = policy
            XCTAssertEqual(LoadBalancers.make(options: options, seed: 1).policy, policy)
        }
    }

    func testPickWhenNothingIsPickableReturnsNil() {
        for policy in LBPolicy.allCases {
            XCTAssertNil(make(policy, count: 0, ready: []).pick(nowNs: 0), policy.name)
            XCTAssertNil(make(policy, count: 3, ready: []).pick(nowNs: 0), policy.name)
        }
    }

    func testPickNeverReturnsAnUnpickableSlot() {
        for policy in LBPolicy.allCases {
            let b = make(policy, count: 6, ready: [1, 3, 4])
            b.connectivityChanged(3, pickable: false)
            for _ in 0..<200 {
                let slot = b.pick(nowNs: 0)!
                XCTAssert([1, 4].contains(slot), "\(policy.name) picked \(slot)")
                b.callStarted(slot)
                b.callFinished(slot, status: .ok, latencyNs: 1000, nowNs: 1)
            }
        }
    }

    func testRemovedSlotIsNeverPicked() {
        for policy in LBPolicy.allCases {
            let b = make(policy, count: 3, ready: [0, 1, 2])
            b.endpointsChanged(added: [], removed: [0], nowNs: 0)
            for _ in 0..<50 { XCTAssertNotEqual(b.pick(nowNs: 0), 0, policy.name) }
        }
    }

    func testRoundRobinVisitsPickableEndpointsInTurn() {
        let b = make(.roundRobin, count: 4, ready: [0, 2, 3])
        let picks = (0..<6).map { _ in b.pick(nowNs: 0)! }
        XCTAssertEqual(picks, [0, 2, 3, 0, 2, 3])
    }

    func testRoundRobinEveryWindowCoversAllAfterChanges() {
        let b = make(.roundRobin, count: 5, ready: [0, 1, 2, 3, 4])
        b.connectivityChanged(1, pickable: false)
        b.connectivityChanged(1, pickable: true)
        var seen: [Int] = []
        for _ in 0..<20 { seen.append(b.pick(nowNs: 0)!) }
        for i in 0...(seen.count - 5) { XCTAssertEqual(Set(seen[i..<(i + 5)]).count, 5, "\(seen)") }
    }

    func testPickFirstTakesTheEarliestJoinedPickableEndpoint() {
        let b = make(.pickFirst, count: 3, ready: [2, 1])
        XCTAssertEqual(b.pick(nowNs: 0), 1)
        b.connectivityChanged(0, pickable: true)
        XCTAssertEqual(b.pick(nowNs: 0), 0)
        b.connectivityChanged(0, pickable: false)
        XCTAssertEqual(b.pick(nowNs: 0), 1)
        b.connectivityChanged(1, pickable: false)
        XCTAssertEqual(b.pick(nowNs: 0), 2)
    }

    func testPickFirstOrderFollowsJoiningNotSlotNumbers() {
        let b = make(.pickFirst, count: 2, ready: [])
        b.endpointsChanged(added: [], removed: [0], nowNs: 0)
        b.endpointsChanged(added: [0], removed: [], nowNs: 0)  // slot 0 reused: joined last
        b.connectivityChanged(0, pickable: true)
        b.connectivityChanged(1, pickable: true)
        XCTAssertEqual(b.pick(nowNs: 0), 1)
    }

    func testLeastRequestPrefersTheLessLoadedOfTwo() {
        let b = make(.leastRequest, count: 2, ready: [0, 1], seed: 42)
        for _ in 0..<10 { b.callStarted(0) }
        for _ in 0..<100 { XCTAssertEqual(b.pick(nowNs: 0), 1) }
    }

    func testLeastRequestSpreadsEvenlyWhenLoadsAreEqual() {
        let b = make(.leastRequest, count: 4, ready: [0, 1, 2, 3], seed: 7)
        var counts = [0, 0, 0, 0]
        for _ in 0..<4000 { counts[b.pick(nowNs: 0)!] += 1 }
        for c in counts { XCTAssert((800...1200).contains(c), "uneven spread \(counts)") }
    }

    func testLeastRequestFinishedCallsLowerTheLoad() {
        let b = make(.leastRequest, count: 2, ready: [0, 1], seed: 3)
        for _ in 0..<5 { b.callStarted(0) }
        for _ in 0..<5 { b.callFinished(0, status: .ok, latencyNs: 1, nowNs: 0) }
        b.callStarted(1)
        XCTAssertEqual(b.cost(0, nowNs: 0), 0)
        XCTAssertEqual(b.cost(1, nowNs: 0), 1)
        XCTAssertEqual(b.pick(nowNs: 0), 0)
    }

    func testLeastRequestMoreChoicesFindTheIdleEndpointMoreOften() {
        // 10 endpoints, one idle, nine loaded: P(idle drawn) is 2/10 with 2 choices
        // (distinct), 1 - 0.8 * 0.9^(k-2) with k choices.
        func idleShare(_ k: Int) -> Double {
            let b = make(.leastRequest, count: 10, ready: Array(0..<10), seed: 11, choiceCount: k)
            for slot in 1..<10 { b.callStarted(slot) }
            var idle = 0
            for _ in 0..<10_000 where b.pick(nowNs: 0) == 0 { idle += 1 }
            return Double(idle) / 10_000
        }
        XCTAssertEqual(idleShare(2), 0.2, accuracy: 0.02)
        XCTAssertEqual(idleShare(5), 1 - 0.8 * 0.9 * 0.9 * 0.9, accuracy: 0.03)
    }

    func testPickCostDoesNotDependOnTheEndpointCount() {
        // O(1) picks: with 100,000 pickable endpoints 100,000 picks stay fast (a scan
        // per pick would take 10^10 steps).
        for policy in LBPolicy.allCases {
            let b = make(policy, count: 100_000, ready: Array(0..<100_000))
            var sum = 0
            for _ in 0..<100_000 { sum &+= b.pick(nowNs: 0)! }
            XCTAssert(sum >= 0)
        }
    }

    func testPickableSetInsertRemoveKeepsMembersAndPositions() {
        var set = PickableSet()
        for s in [5, 1, 9, 3] { set.insert(s) }
        set.insert(1)
        XCTAssertEqual(set.count, 4)
        set.remove(5)
        set.remove(5)
        set.remove(42)
        XCTAssertEqual(Set(set.members), [1, 9, 3])
        XCTAssertFalse(set.contains(5))
        XCTAssertTrue(set.contains(3))
        for s in set.members { set.remove(s) }
        XCTAssertEqual(set.count, 0)
    }

    func testSplitMix64BelowStaysInRangeAndIsUniform() {
        var rng = SplitMix64(seed: 5)
        var counts = [Int](repeating: 0, count: 7)
        for _ in 0..<70_000 { counts[rng.below(7)] += 1 }
        for c in counts { XCTAssert((9_400...10_600).contains(c), "\(counts)") }
    }
}
