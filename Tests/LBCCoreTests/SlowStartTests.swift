import XCTest
@testable import LBCCore

final class SlowStartTests: XCTestCase {
    private let s: Int64 = 1_000_000_000

    func testFactorRisesLinearlyOverTheWindow() {
        var slow = SlowStart(windowNs: 10 * s, minFactor: 0.1)
        XCTAssertEqual(slow.factor(0, nowNs: 0), 1)  // never started: full weight
        slow.started(0, nowNs: 100 * s)
        XCTAssertEqual(slow.factor(0, nowNs: 100 * s), 0.1, accuracy: 1e-9)
        XCTAssertEqual(slow.factor(0, nowNs: 105 * s), 0.55, accuracy: 1e-9)
        XCTAssertEqual(slow.factor(0, nowNs: 110 * s), 1)
        XCTAssertEqual(slow.factor(0, nowNs: 200 * s), 1)
        slow.started(0, nowNs: 300 * s)  // reconnected: ramps again
        XCTAssertEqual(slow.factor(0, nowNs: 300 * s), 0.1, accuracy: 1e-9)
        slow.reset(0)
        XCTAssertEqual(slow.factor(0, nowNs: 300 * s), 1)
    }

    func testDisabledDoesNothing() {
        var slow = SlowStart()
        XCTAssertFalse(slow.isEnabled)
        slow.started(5, nowNs: 0)
        XCTAssertEqual(slow.factor(5, nowNs: 0), 1)
    }

    /// Share of slot 3 (just READY) among four equal endpoints over 1,000 picks at `t` s.
    private func share(_ policy: LBPolicy, at t: Int64) -> Double {
        var options = ChannelOptions()
        options.lbPolicy = policy
        options.slowStartWindowMs = 10_000
        let b = LoadBalancers.make(options: options, seed: 5)
        b.endpointsChanged(added: [0, 1, 2, 3], removed: [], nowNs: 0)
        for slot in 0..<4 {
            b.connectivityChanged(slot, pickable: true)
            b.callFinished(slot, status: .ok, latencyNs: 1_000_000, nowNs: 0)
        }
        b.endpointReady(3, nowNs: 0)
        var picked = 0
        for _ in 0..<4000 where b.pick(nowNs: t * s) == 3 { picked += 1 }
        return Double(picked) / 4000
    }

    func testNewEndpointShareRisesOverTheWindow() {
        for policy in [LBPolicy.roundRobin, .leastRequest, .peakEWMA] {
            let early = share(policy, at: 0), middle = share(policy, at: 5), late = share(policy, at: 10)
            XCTAssertLessThan(early, 0.1, "\(policy.name) \(early)")
            XCTAssertLessThan(early, middle, policy.name)
            XCTAssertLessThan(middle, late, policy.name)
            XCTAssertEqual(late, 0.25, accuracy: 0.04, policy.name)
        }
    }

    func testRoundRobinStaysEvenWhenEveryEndpointRamps() {
        var options = ChannelOptions()
        options.lbPolicy = .roundRobin
        options.slowStartWindowMs = 10_000
        let b = LoadBalancers.make(options: options, seed: 8)
        b.endpointsChanged(added: [0, 1, 2, 3], removed: [], nowNs: 0)
        for slot in 0..<4 {
            b.connectivityChanged(slot, pickable: true)
            b.endpointReady(slot, nowNs: 0)
        }
        var counts = [0, 0, 0, 0]
        for _ in 0..<8000 { counts[b.pick(nowNs: s)!] += 1 }
        for c in counts { XCTAssert((1800...2200).contains(c), "\(counts)") }
    }
}
