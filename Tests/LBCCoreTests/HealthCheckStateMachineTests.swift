import XCTest
@testable import LBCCore

final class HealthCheckStateMachineTests: XCTestCase {
    /// Backoff 1 s ×1.6 up to 5 s, no jitter (random 0).
    private func machine() -> HealthCheckStateMachine {
        HealthCheckStateMachine(backoff: ConnectionBackoff(initialMs: 1000, multiplier: 1.6, jitter: 0.2, maxMs: 5000),
                                random: { 0 })
    }

    private func watching() -> HealthCheckStateMachine {
        var m = machine()
        XCTAssertEqual(m.connectionReady(), .startWatch)
        return m
    }

    func testConnectionReadyWhenIdleStartsWatchPending() {
        var m = machine()
        XCTAssertEqual(m.health, .pending)
        XCTAssertEqual(m.connectionReady(), .startWatch)
        XCTAssertEqual(m.phase, .watching)
        XCTAssertEqual(m.health, .pending)
        XCTAssertFalse(m.health.allowsCalls)
        XCTAssertFalse(m.health.isFailing)  // calls wait for the first answer
    }

    func testReceivedWhenWatchingSetsHealth() {
        var m = watching()
        m.received(servingStatus: 1)
        XCTAssertEqual(m.health, .serving)
        XCTAssertTrue(m.health.allowsCalls)
        for status: Int32 in [2, 3, 0, 7] {
            m.received(servingStatus: status)
            XCTAssertEqual(m.health, .notServing, "\(status)")
            XCTAssertTrue(m.health.isFailing)
        }
        m.received(servingStatus: 1)
        XCTAssertEqual(m.health, .serving)
    }

    func testStreamEndedUnimplementedWhenWatchingIsHealthyAndLoggedOnce() {
        var m = watching()
        XCTAssertEqual(m.streamEnded(.unimplemented), .logUnimplemented)
        XCTAssertEqual(m.health, .unimplemented)
        XCTAssertTrue(m.health.allowsCalls)
        XCTAssertEqual(m.phase, .unimplemented)
        // A new connection asks again; the answer is logged only once per endpoint.
        XCTAssertEqual(m.connectionGone(), .none)
        XCTAssertEqual(m.health, .pending)
        XCTAssertEqual(m.connectionReady(), .startWatch)
        XCTAssertEqual(m.streamEnded(.unimplemented), .none)
        XCTAssertEqual(m.health, .unimplemented)
    }

    func testStreamEndedWithoutAnswerWhenWatchingRetriesWithGrowingBackoff() {
        var m = watching()
        XCTAssertEqual(m.streamEnded(.unavailable), .scheduleRetry(delayMs: 1000))
        XCTAssertEqual(m.health, .failed)
        XCTAssertTrue(m.health.isFailing)
        XCTAssertEqual(m.phase, .backingOff)
        XCTAssertEqual(m.retryTimerFired(), .startWatch)
        XCTAssertEqual(m.health, .pending)
        XCTAssertEqual(m.streamEnded(.ok), .scheduleRetry(delayMs: 1600))  // OK is a failure too
        XCTAssertEqual(m.retryTimerFired(), .startWatch)
        XCTAssertEqual(m.streamEnded(.internalError), .scheduleRetry(delayMs: 2560))
    }

    func testStreamEndedAfterAnAnswerReopensAtOnceWithBackoffReset() {
        var m = watching()
        XCTAssertEqual(m.streamEnded(.unavailable), .scheduleRetry(delayMs: 1000))
        XCTAssertEqual(m.retryTimerFired(), .startWatch)
        m.received(servingStatus: 1)
        XCTAssertEqual(m.streamEnded(.cancelled), .startWatch)
        XCTAssertEqual(m.health, .pending)
        XCTAssertEqual(m.phase, .watching)
        // The re-opened stream failing without an answer starts the backoff over.
        XCTAssertEqual(m.streamEnded(.unavailable), .scheduleRetry(delayMs: 1000))
    }

    func testReceivedMalformedWhenWatchingCancelsAndBacksOff() {
        var m = watching()
        m.received(servingStatus: 1)
        XCTAssertEqual(m.receivedMalformed(), .cancelWatch)
        XCTAssertEqual(m.health, .failed)
        // The cancelled stream's end: no immediate re-open for a stream that talks nonsense.
        XCTAssertEqual(m.streamEnded(.cancelled), .scheduleRetry(delayMs: 1000))
    }

    func testConnectionGoneWhenWatchingCancelsTheStreamAndIgnoresItsEnd() {
        var m = watching()
        m.received(servingStatus: 1)
        XCTAssertEqual(m.connectionGone(), .cancelWatch)
        XCTAssertEqual(m.health, .pending)
        XCTAssertEqual(m.phase, .idle)
        XCTAssertEqual(m.streamEnded(.cancelled), .none)
        m.received(servingStatus: 1)  // late: ignored
        XCTAssertEqual(m.health, .pending)
        XCTAssertEqual(m.receivedMalformed(), .none)
    }

    func testConnectionGoneWhenBackingOffCancelsTheTimer() {
        var m = watching()
        XCTAssertEqual(m.streamEnded(.unavailable), .scheduleRetry(delayMs: 1000))
        XCTAssertEqual(m.connectionGone(), .cancelRetry)
        XCTAssertEqual(m.retryTimerFired(), .none)
        XCTAssertEqual(m.health, .pending)
        XCTAssertEqual(m.connectionGone(), .none)
    }

    func testRetryTimerFiredWhenNotBackingOffDoesNothing() {
        var m = machine()
        XCTAssertEqual(m.retryTimerFired(), .none)
        _ = m.connectionReady()
        XCTAssertEqual(m.retryTimerFired(), .none)
        XCTAssertEqual(m.phase, .watching)
    }

    func testBackoffIsCappedAndJittered() {
        var m = HealthCheckStateMachine(backoff: ConnectionBackoff(initialMs: 1000, multiplier: 2, jitter: 0.2, maxMs: 3000),
                                        random: { 1 })
        _ = m.connectionReady()
        var delays: [Int64] = []
        for _ in 0..<4 {
            if case .scheduleRetry(let ms) = m.streamEnded(.unavailable) { delays.append(ms) }
            _ = m.retryTimerFired()
        }
        XCTAssertEqual(delays, [1200, 2400, 3600, 3600])
    }
}
