import XCTest
@testable import LBCCore

final class LoadBalancerAvoidTests: XCTestCase {
    func testAvoidingPickPrefersAnotherSlot() {
        let balancer = RoundRobinBalancer(seed: 1, slowStart: SlowStart(windowNs: 0, minFactor: 1))
        balancer.endpointsChanged(added: [0, 1], removed: [], nowNs: 0)
        balancer.connectivityChanged(0, pickable: true)
        balancer.connectivityChanged(1, pickable: true)
        for _ in 0..<10 { XCTAssertEqual(balancer.pick(nowNs: 0, avoiding: 0), 1) }
        balancer.connectivityChanged(1, pickable: false)
        XCTAssertEqual(balancer.pick(nowNs: 0, avoiding: 0), 0)  // the only one left
    }
}
