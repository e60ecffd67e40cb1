import XCTest
@testable import LBCCore

final class EndpointStateMachineTests: XCTestCase {
    /// Backoff 1 s, ×1.6, no jitter effect (random 0); healthy after 5 s READY.
    private func machine(resetAfterMs: Int64 = 5000) -> EndpointStateMachine {
        EndpointStateMachine(backoff: ConnectionBackoff(initialMs: 1000, multiplier: 1.6, jitter: 0.2, maxMs: 120_000),
                             resetBackoffAfterMs: resetAfterMs, random: { 0 })
    }

    /// A machine whose connection became READY at `readyAtMs`.
    private func ready(at readyAtMs: Int64 = 0, resetAfterMs: Int64 = 5000) -> EndpointStateMachine {
        var m = machine(resetAfterMs: resetAfterMs)
        _ = m.start()
        m.connected(nowMs: readyAtMs)
        return m
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

    func testConnectedWhenConnectingDoesNotResetBackoffYet() {
        var m = machine()
        _ = m.start()
        _ = m.connectFailed()                       // 1000
        _ = m.retryTimerFired()
        m.connected(nowMs: 10_000)
        XCTAssertEqual(m.state, .ready)
        XCTAssertFalse(m.failingSinceReady)
        // Lost 100 ms after READY: not proven healthy, the backoff goes on growing.
        XCTAssertEqual(m.connectionLost(nowMs: 10_100), .scheduleRetry(delayMs: 1600))
    }

    func testConnectionLostWhenReadyLongEnoughReconnectsAtOnceAndResetsBackoff() {
        var m = machine()
        _ = m.start()
        _ = m.connectFailed()
        _ = m.retryTimerFired()
        _ = m.connectFailed()                       // backoff now at 2560
        _ = m.retryTimerFired()
        m.connected(nowMs: 0)
        XCTAssertEqual(m.connectionLost(nowMs: 5000), .connect)
        XCTAssertEqual(m.state, .connecting)
        XCTAssertFalse(m.failingSinceReady)
        XCTAssertEqual(m.connectFailed(), .scheduleRetry(delayMs: 1000))
    }

    func testConnectionLostWhenReadyBrieflyBacksOffAsAFailure() {
        var m = ready(at: 1000)
        XCTAssertEqual(m.connectionLost(nowMs: 1010), .scheduleRetry(delayMs: 1000))
        XCTAssertEqual(m.state, .transientFailure)
        XCTAssertTrue(m.failingSinceReady)
        XCTAssertEqual(m.requestConnection(), .none, "waiting calls do not shorten a failure's backoff")
        XCTAssertEqual(m.retryTimerFired(), .connect)
    }

    func testConnectionLostWhenReadyBrieflyRepeatedlyGrowsTheBackoff() {
        // A server that closes right after SETTINGS: 1000, 1600, 2560, ... never a tight loop.
        var m = machine()
        _ = m.start()
        var now: Int64 = 0
        var delays: [Int64] = []
        for _ in 0..<5 {
            m.connected(nowMs: now)
            guard case .scheduleRetry(let delay) = m.connectionLost(nowMs: now + 5) else {
                return XCTFail("an early loss must back off")
            }
            delays.append(delay)
            now += 5 + delay
            XCTAssertEqual(m.retryTimerFired(), .connect)
        }
        XCTAssertEqual(delays, [1000, 1600, 2560, 4096, 6554])
    }

    func testPeerUnresponsiveWhenReadyAndHealthyBacksOffAsAFailure() {
        var m = ready(at: 0)
        m.callCompleted()
        // Long READY and a served call: a loss would reconnect at once; a dead peer does not.
        XCTAssertEqual(m.peerUnresponsive(), .scheduleRetry(delayMs: 1000))
        XCTAssertEqual(m.state, .transientFailure)
        XCTAssertTrue(m.failingSinceReady)
        XCTAssertEqual(m.retryTimerFired(), .connect)
        XCTAssertEqual(m.connectFailed(), .scheduleRetry(delayMs: 1600))
    }

    func testPeerUnresponsiveWhenNotReadyActsAsAFailedAttempt() {
        var m = machine()
        _ = m.start()
        XCTAssertEqual(m.peerUnresponsive(), .scheduleRetry(delayMs: 1000))
        XCTAssertEqual(m.state, .transientFailure)
        var idle = machine()
        XCTAssertEqual(idle.peerUnresponsive(), .none)
    }

    func testGoAwayWhenReadyLongEnoughReconnectsAtOnce() {
        var m = ready(at: 0)
        XCTAssertEqual(m.goAway(nowMs: 5000), .connect)
        XCTAssertEqual(m.state, .connecting)
        XCTAssertFalse(m.failingSinceReady)
    }

    func testGoAwayWhenReadyBrieflyGoesIdleUntilTheBackoffExpires() {
        var m = ready(at: 0)
        XCTAssertEqual(m.goAway(nowMs: 3), .scheduleRetry(delayMs: 1000))
        XCTAssertEqual(m.state, .idle)
        XCTAssertFalse(m.failingSinceReady, "GOAWAY is not a failure: calls wait instead of failing fast")
        XCTAssertEqual(m.retryTimerFired(), .connect)
        XCTAssertEqual(m.state, .connecting)
    }

    func testGoAwayWhenReadyBrieflyAgainCountsAsAFailedAttempt() {
        // A server that sends GOAWAY on every connection: the second early GOAWAY in a
        // row is a failure (calls fail fast, waiting calls do not force a reconnect).
        var m = ready(at: 0)
        _ = m.goAway(nowMs: 3)
        XCTAssertEqual(m.requestConnection(), .connect)
        m.connected(nowMs: 10)
        XCTAssertEqual(m.goAway(nowMs: 12), .scheduleRetry(delayMs: 1600))
        XCTAssertEqual(m.state, .transientFailure)
        XCTAssertTrue(m.failingSinceReady)
        XCTAssertEqual(m.requestConnection(), .none)
        XCTAssertEqual(m.retryTimerFired(), .connect)
        // A healthy connection starts the count again.
        m.connected(nowMs: 2000)
        XCTAssertEqual(m.goAway(nowMs: 7000), .connect)
        m.connected(nowMs: 7010)
        XCTAssertEqual(m.goAway(nowMs: 7020), .scheduleRetry(delayMs: 1000))
        XCTAssertEqual(m.state, .idle)
    }

    func testGoAwayWhenReadyBrieflyButServedACallReconnectsAtOnce() {
        // A server with a short max connection age (GOAWAY every few hundred ms) that
        // answers calls is healthy: never a failure, never a wait.
        var m = ready(at: 0)
        for round in 0..<5 {
            let t = Int64(round) * 300
            m.callCompleted()
            XCTAssertEqual(m.goAway(nowMs: t + 299), .connect, "round \(round)")
            XCTAssertEqual(m.state, .connecting)
            XCTAssertFalse(m.failingSinceReady)
            m.connected(nowMs: t + 300)
        }
        // The proof belongs to one connection: the next one starts unproven.
        XCTAssertEqual(m.goAway(nowMs: 1_505), .scheduleRetry(delayMs: 1000))
    }

    func testConnectionLostWhenReadyBrieflyButServedACallReconnectsAtOnceAndResetsBackoff() {
        var m = ready(at: 0)
        _ = m.connectionLost(nowMs: 10)            // early: backoff 1000
        XCTAssertEqual(m.retryTimerFired(), .connect)
        m.connected(nowMs: 1_100)
        m.callCompleted()
        XCTAssertEqual(m.connectionLost(nowMs: 1_120), .connect)
        XCTAssertEqual(m.connectFailed(), .scheduleRetry(delayMs: 1000), "the backoff was reset")
    }

    func testCallCompletedWhenNotReadyChangesNothing() {
        var m = machine()
        _ = m.start()
        m.callCompleted()                          // CONNECTING: ignored
        m.connected(nowMs: 0)
        XCTAssertEqual(m.goAway(nowMs: 5), .scheduleRetry(delayMs: 1000))
    }

    func testRequestConnectionWhenIdleAfterEarlyGoAwayConnectsAtOnce() {
        var m = ready(at: 0)
        _ = m.goAway(nowMs: 3)
        XCTAssertEqual(m.requestConnection(), .connect)
        XCTAssertEqual(m.state, .connecting)
        // The timer of the abandoned backoff is stale now.
        XCTAssertEqual(m.retryTimerFired(), .none)
        XCTAssertEqual(m.requestConnection(), .none)
    }

    func testRequestConnectionWhenNotIdleDoesNothing() {
        var m = machine()
        XCTAssertEqual(m.requestConnection(), .none, "an endpoint that has not started yet")
        _ = m.start()
        XCTAssertEqual(m.requestConnection(), .none)
        m.connected(nowMs: 0)
        XCTAssertEqual(m.requestConnection(), .none)
    }

    func testGoAwayWhenNotReadyDoesNothing() {
        var m = machine()
        _ = m.start()
        XCTAssertEqual(m.goAway(nowMs: 0), .none)
        XCTAssertEqual(m.state, .connecting)
    }

    func testGoAwayWhenResetAfterIsZeroReconnectsAtOnce() {
        var m = ready(at: 0, resetAfterMs: 0)
        XCTAssertEqual(m.goAway(nowMs: 0), .connect)
        m.connected(nowMs: 1)
        XCTAssertEqual(m.connectionLost(nowMs: 1), .connect)
    }

    func testRetryTimerFiredWhenNotInFailureDoesNothing() {
        var m = machine()
        _ = m.start()
        XCTAssertEqual(m.retryTimerFired(), .none)
        m.connected(nowMs: 0)
        XCTAssertEqual(m.retryTimerFired(), .none)
    }

    func testConnectionLostWhenConnectingCountsAsFailure() {
        var m = machine()
        _ = m.start()
        XCTAssertEqual(m.connectionLost(nowMs: 0), .scheduleRetry(delayMs: 1000))
        XCTAssertEqual(m.state, .transientFailure)
    }
}
