import XCTest
@testable import LBCCore

final class EndpointStateMachineTests: XCTestCase {
    private func machine() -> EndpointStateMachine {
        EndpointStateMachine(backoff: ConnectionBackoff(initialMs: 1000, multiplier: 1.6, jitter: 0.2, maxMs: 120_000),
                             random: { 0 })
    }

    func testStartWhenIdleConnects() {
        var m = machine()
        XCTAssertEqual(m.start(), .connect)
        XCTAssertEqual(m.state, .connecting)
        XCTAssertEqual(m.start(), .none)
    }

    func testConnectFailedWhenConnectingBacksOffExponentially() {
        var m = machine()
        _ = m.start()
        XCTAssertEqual(m.connectFailed(), .scheduleRetry(delayMs: 1000))
        XCTAssertEqual(m.state, .transientFailure)
        XCTAssertTrue(m.failingSinceReady)
        XCTAssertEqual(m.retryTimerFired(), .connect)
        XCTAssertEqual(m.connectFailed(), .scheduleRetry(delayMs: 1600))
        XCTAssertEqual(m.retryTimerFired(), .connect)
        XCTAssertEqual(m.connectFailed(), .scheduleRetry(delayMs: 2560))
    }

    func testConnectedWhenConnectingResetsBackoff() {
        var m = machine()
        _ = m.start()
        _ = m.connectFailed()
        _ = m.retryTimerFired()
        m.connected()
        XCTAssertEqual(m.state, .ready)
        XCTAssertFalse(m.failingSinceReady)
        // Lost after READY: reconnect at once, and the next failure starts from the initial backoff.
        XCTAssertEqual(m.connectionLost(), .connect)
        XCTAssertEqual(m.connectFailed(), .scheduleRetry(delayMs: 1000))
    }

    func testGoAwayWhenReadyReconnectsAtOnce() {
        var m = machine()
        _ = m.start()
        m.connected()
        XCTAssertEqual(m.goAway(), .connect)
        XCTAssertEqual(m.state, .connecting)
        XCTAssertFalse(m.failingSinceReady)
    }

    func testRetryTimerFiredWhenNotInFailureDoesNothing() {
        var m = machine()
        _ = m.start()
        XCTAssertEqual(m.retryTimerFired(), .none)
        m.connected()
        XCTAssertEqual(m.retryTimerFired(), .none)
    }

    func testConnectionLostWhenConnectingCountsAsFailure() {
        var m = machine()
        _ = m.start()
        XCTAssertEqual(m.connectionLost(), .scheduleRetry(delayMs: 1000))
        XCTAssertEqual(m.state, .transientFailure)
    }
}
