import XCTest
@testable import LBCCore

final class EndpointStateTests: XCTestCase {
    private func ready() -> EndpointState {
        var s = EndpointState(connectivity: EndpointStateMachine(backoff: ConnectionBackoff(), random: { 0 }))
        _ = s.connectivity.start()
        s.connectivity.connected(nowMs: 0)
        s.setCapacity(.available)
        return s
    }

    private func outlier(_ n: Int) -> OutlierEjection {
        var o = OutlierEjection()
        o.consecutiveFailures = n
        o.baseEjectionMs = 1000
        o.maxEjectionMs = 2500
        return o
    }

    func testPickableOnlyWhenReadyActiveNotEjectedWithRoom() {
        var s = ready()
        XCTAssertTrue(s.isPickable)
        XCTAssertEqual(s.name, "READY")
        s.setCapacity(.full)
        XCTAssertFalse(s.isPickable)
        XCTAssertEqual(s.name, "READY")  // connected, just busy
        s.setCapacity(.none)
        XCTAssertFalse(s.isPickable)
        XCTAssertEqual(s.name, "CONNECTING")
        s.setCapacity(.available)
        _ = s.eject(nowNs: 0, policy: outlier(1))
        XCTAssertFalse(s.isPickable)
        s.unejected(nowNs: 0)
        XCTAssertTrue(s.isPickable)
        s.drain()
        XCTAssertFalse(s.isPickable)
        XCTAssertEqual(s.admin, .draining)
    }

    func testNotPickableWhileConnectingOrFailing() {
        var s = EndpointState(connectivity: EndpointStateMachine(backoff: ConnectionBackoff(), random: { 0 }))
        s.setCapacity(.available)
        XCTAssertFalse(s.isPickable)
        XCTAssertEqual(s.name, "IDLE")
        _ = s.connectivity.start()
        XCTAssertFalse(s.isPickable)
        _ = s.connectivity.connectFailed()
        XCTAssertFalse(s.isPickable)
        XCTAssertEqual(s.name, "TRANSIENT_FAILURE")
    }

    func testCallEndedWhenFailuresReachTheThresholdAsksForEjection() {
        var s = ready()
        let policy = outlier(3)
        XCTAssertFalse(s.callEnded(.unavailable, policy: policy))
        XCTAssertFalse(s.callEnded(.unavailable, policy: policy))
        XCTAssertTrue(s.callEnded(.unavailable, policy: policy))
        XCTAssertEqual(s.consecutiveFailures, 3)
    }

    func testCallEndedWhenOKResetsTheRunOtherStatusesLeaveIt() {
        var s = ready()
        let policy = outlier(3)
        _ = s.callEnded(.unavailable, policy: policy)
        _ = s.callEnded(.unavailable, policy: policy)
        XCTAssertFalse(s.callEnded(.notFound, policy: policy))  // not counted, not a success
        XCTAssertEqual(s.consecutiveFailures, 2)
        XCTAssertFalse(s.callEnded(.ok, policy: policy))
        XCTAssertEqual(s.consecutiveFailures, 0)
    }

    func testEjectGrowsWithEachEjectionUpToTheMaximum() {
        var s = ready()
        let policy = outlier(1)
        XCTAssertEqual(s.eject(nowNs: 0, policy: policy), 1000 * 1_000_000)
        s.unejected(nowNs: 1000 * 1_000_000)
        XCTAssertEqual(s.eject(nowNs: 1000 * 1_000_000, policy: policy), 3000 * 1_000_000)
        s.unejected(nowNs: 3000 * 1_000_000)
        XCTAssertEqual(s.eject(nowNs: 3000 * 1_000_000, policy: policy), 5500 * 1_000_000)
        XCTAssertEqual(s.ejections, 3)
        XCTAssertEqual(s.ejectionLevel, 3)
        XCTAssertEqual(s.consecutiveFailures, 0)
    }

    func testEjectAfterAHealthyMaximumEjectionTimeStartsOverAtTheBase() {
        var s = ready()
        let policy = outlier(1)  // base 1 s, max 2.5 s
        _ = s.eject(nowNs: 0, policy: policy)
        s.unejected(nowNs: 1_000_000_000)
        _ = s.eject(nowNs: 2_000_000_000, policy: policy)  // 1 s healthy: level 2
        XCTAssertEqual(s.ejectionLevel, 2)
        s.unejected(nowNs: 4_000_000_000)
        let at: Int64 = 4_000_000_000 + 2_600_000_000  // healthy longer than the maximum
        XCTAssertEqual(s.eject(nowNs: at, policy: policy), at + 1_000_000_000)
        XCTAssertEqual(s.ejectionLevel, 1)
        XCTAssertEqual(s.ejections, 3)
    }

    func testCallEndedWhileEjectedDoesNotAskAgain() {
        var s = ready()
        let policy = outlier(1)
        _ = s.eject(nowNs: 0, policy: policy)
        XCTAssertFalse(s.callEnded(.unavailable, policy: policy))
    }

    func testOutlierEjectionShareAndStatuses() {
        var o = OutlierEjection()
        XCTAssertFalse(o.isEnabled)
        XCTAssertTrue(o.counts(.unavailable))
        XCTAssertFalse(o.counts(.internalError))
        XCTAssertFalse(o.counts(.ok))
        XCTAssertTrue(o.allowsEjection(ejected: 0, total: 4))
        XCTAssertTrue(o.allowsEjection(ejected: 1, total: 4))
        XCTAssertFalse(o.allowsEjection(ejected: 2, total: 4))
        XCTAssertFalse(o.allowsEjection(ejected: 0, total: 1))  // never the only endpoint at 50 %
        XCTAssertTrue(o.allowsEjection(ejected: 0, total: 3))
        XCTAssertFalse(o.allowsEjection(ejected: 1, total: 3))
        o.maxEjectionPercent = 100
        XCTAssertTrue(o.allowsEjection(ejected: 0, total: 1))
        o.maxEjectionPercent = 0
        XCTAssertFalse(o.allowsEjection(ejected: 0, total: 100))
        XCTAssertEqual(OutlierEjection().statusNames, "UNAVAILABLE")
    }

    func testIntervalEndedEjectsByFailureRateAboveTheVolume() {
        var s = ready()
        var policy = OutlierEjection()
        policy.failurePercentage = 50
        policy.requestVolume = 10
        XCTAssertTrue(policy.isEnabled)
        for i in 0..<10 { XCTAssertFalse(s.callEnded(i < 5 ? .unavailable : .ok, policy: policy)) }
        XCTAssertEqual(s.intervalCalls, 10)
        XCTAssertEqual(s.intervalFailures, 5)
        XCTAssertTrue(s.intervalEnded(policy: policy))  // 5 of 10 = 50 %
        XCTAssertEqual(s.intervalCalls, 0)
        for _ in 0..<9 { _ = s.callEnded(.unavailable, policy: policy) }
        XCTAssertFalse(s.intervalEnded(policy: policy))  // below the volume
        for i in 0..<10 { _ = s.callEnded(i < 4 ? .unavailable : .ok, policy: policy) }
        XCTAssertFalse(s.intervalEnded(policy: policy))  // 40 %
    }

    func testConsecutiveDetectorOffNeverAsksForEjection() {
        var s = ready()
        var policy = OutlierEjection()
        policy.failurePercentage = 10
        for _ in 0..<100 { XCTAssertFalse(s.callEnded(.unavailable, policy: policy)) }
    }

    func testPickableRequiresHealthThatAllowsCalls() {
        var s = ready()
        XCTAssertEqual(s.health, .notChecked)
        XCTAssertTrue(s.isPickable)
        for (health, pickable, failing) in [(EndpointHealth.pending, false, false), (.serving, true, false),
                                            (.notServing, false, true), (.failed, false, true),
                                            (.unimplemented, true, false), (.notChecked, true, false)] {
            s.setHealth(health)
            XCTAssertEqual(s.isPickable, pickable, health.name)
            XCTAssertEqual(s.isHealthFailing, failing, health.name)
            XCTAssertEqual(s.name, "READY", health.name)  // connectivity is its own dimension
        }
        s.setHealth(.serving)
        s.setCapacity(.full)
        XCTAssertFalse(s.isPickable)
    }
}

/// What connectivity watches report for one endpoint.
final class EndpointStateReportedConnectivityTests: XCTestCase {
    func testReadyWithoutCapacityIsReportedConnecting() {
        var state = EndpointState(connectivity: EndpointStateMachine(backoff: ConnectionBackoff()))
        XCTAssertEqual(state.reportedConnectivity, .idle)
        _ = state.connectivity.start()
        XCTAssertEqual(state.reportedConnectivity, .connecting)
        state.connectivity.connected(nowMs: 0)
        XCTAssertEqual(state.reportedConnectivity, .connecting)
        state.setCapacity(.available)
        XCTAssertEqual(state.reportedConnectivity, .ready)
        state.setCapacity(.full)
        XCTAssertEqual(state.reportedConnectivity, .ready)
        _ = state.connectivity.connectionLost(nowMs: 1)
        state.setCapacity(.none)
        XCTAssertEqual(state.reportedConnectivity, .transientFailure)
    }

    func testHealthIsFoldedIntoTheReportedConnectivity() {
        var s = EndpointState(connectivity: EndpointStateMachine(backoff: ConnectionBackoff()))
        _ = s.connectivity.start()
        s.connectivity.connected(nowMs: 0)
        s.setCapacity(.available)
        s.setHealth(.pending)
        XCTAssertEqual(s.reportedConnectivity, .connecting)  // A17: until the first answer
        s.setHealth(.serving)
        XCTAssertEqual(s.reportedConnectivity, .ready)
        s.setHealth(.notServing)
        XCTAssertEqual(s.reportedConnectivity, .transientFailure)
        s.setHealth(.failed)
        XCTAssertEqual(s.reportedConnectivity, .transientFailure)
        s.setHealth(.unimplemented)
        XCTAssertEqual(s.reportedConnectivity, .ready)
        s.setHealth(.notServing)
        s.setCapacity(.none)  // a connection that allows no stream yet is CONNECTING whatever the health
        XCTAssertEqual(s.reportedConnectivity, .connecting)
    }
}
