import XCTest
@testable import LBCCore

final class KeepaliveStateMachineTests: XCTestCase {
    /// Milliseconds as the machine's nanoseconds.
    private func ms(_ value: Int64) -> Int64 { value * 1_000_000 }

    /// Keepalive time 1000 ms, timeout 500 ms.
    private func machine(permitWithoutCalls: Bool = false) -> KeepaliveStateMachine {
        KeepaliveStateMachine(timeMs: 1000, timeoutMs: 500, permitWithoutCalls: permitWithoutCalls)
    }

    /// A machine started at 0 with streams: its first PING is due at 1000 ms.
    private func started(permitWithoutCalls: Bool = false) -> KeepaliveStateMachine {
        var k = machine(permitWithoutCalls: permitWithoutCalls)
        XCTAssertEqual(k.start(nowNs: 0, hasStreams: true), .armTimer(atNs: ms(1000)))
        return k
    }

    // MARK: start

    func testStartWhenNotStartedWithStreamsArmsTheTimerOneTimeLater() {
        var k = machine()
        XCTAssertEqual(k.start(nowNs: ms(5), hasStreams: true), .armTimer(atNs: ms(1005)))
        XCTAssertEqual(k.state, .waiting(pingAtNs: ms(1005)))
        XCTAssertEqual(k.lastReadNs, ms(5))
    }

    func testStartWhenNotStartedWithoutStreamsIsIdleWithoutPermission() {
        var k = machine()
        XCTAssertEqual(k.start(nowNs: 0, hasStreams: false), .none)
        XCTAssertEqual(k.state, .idle)
    }

    func testStartWhenNotStartedWithoutStreamsArmsWithPermission() {
        var k = machine(permitWithoutCalls: true)
        XCTAssertEqual(k.start(nowNs: 0, hasStreams: false), .armTimer(atNs: ms(1000)))
    }

    func testStartWhenStartedDoesNothing() {
        var k = started()
        XCTAssertEqual(k.start(nowNs: ms(10), hasStreams: true), .none)
        XCTAssertEqual(k.state, .waiting(pingAtNs: ms(1000)))
    }

    // MARK: ping due

    func testTimerFiredWhenWaitingWithNothingReadSendsAPing() {
        var k = started()
        XCTAssertEqual(k.timerFired(nowNs: ms(1000), hasStreams: true), .sendPing(timeoutAtNs: ms(1500)))
        XCTAssertEqual(k.state, .pingOutstanding(sentAtNs: ms(1000)))
        XCTAssertEqual(k.pingsSent, 1)
    }

    func testTimerFiredWhenWaitingAfterAReadReArmsFromTheLastRead() {
        var k = started()
        k.receivedBytes(nowNs: ms(700))
        XCTAssertEqual(k.timerFired(nowNs: ms(1000), hasStreams: true), .armTimer(atNs: ms(1700)))
        XCTAssertEqual(k.pingsSent, 0)
        // Nothing read since: the PING goes out one time after the last read.
        XCTAssertEqual(k.timerFired(nowNs: ms(1700), hasStreams: true), .sendPing(timeoutAtNs: ms(2200)))
    }

    func testBusyConnectionIsNeverPinged() {
        var k = started()
        var now: Int64 = 0
        for _ in 0..<20 {
            for _ in 0..<10 {
                now += ms(100)
                k.receivedBytes(nowNs: now)
            }
            guard case .armTimer = k.timerFired(nowNs: now, hasStreams: true) else {
                return XCTFail("a connection that keeps reading was pinged")
            }
        }
        XCTAssertEqual(k.pingsSent, 0)
    }

    func testTimerFiredWhenWaitingWithoutStreamsGoesIdleWithoutPermission() {
        var k = started()
        XCTAssertEqual(k.timerFired(nowNs: ms(1000), hasStreams: false), .none)
        XCTAssertEqual(k.state, .idle)
        XCTAssertEqual(k.pingsSent, 0)
    }

    func testTimerFiredWhenWaitingWithoutStreamsPingsWithPermission() {
        var k = started(permitWithoutCalls: true)
        XCTAssertEqual(k.timerFired(nowNs: ms(1000), hasStreams: false), .sendPing(timeoutAtNs: ms(1500)))
    }

    // MARK: ping outstanding

    func testPingAcknowledgedWhenOutstandingRecordsTheRoundTripAndWaitsOneTime() {
        var k = started()
        _ = k.timerFired(nowNs: ms(1000), hasStreams: true)
        XCTAssertEqual(k.pingAcknowledged(nowNs: ms(1003)), .armTimer(atNs: ms(2003)))
        XCTAssertEqual(k.state, .waiting(pingAtNs: ms(2003)))
        XCTAssertEqual(k.lastRoundTripNs, ms(3))
        XCTAssertEqual(k.pingsAcknowledged, 1)
        // The next PING is measured from the ACK (a read), not from the PING sent.
        XCTAssertEqual(k.timerFired(nowNs: ms(2003), hasStreams: true), .sendPing(timeoutAtNs: ms(2503)))
    }

    func testPingAcknowledgedWhenNoPingIsOutstandingDoesNothing() {
        var k = started()
        XCTAssertEqual(k.pingAcknowledged(nowNs: ms(10)), .none)
        XCTAssertEqual(k.pingsAcknowledged, 0)
        XCTAssertNil(k.lastRoundTripNs)
    }

    func testTimerFiredWhenOutstandingWithNothingReadDeclaresDead() {
        var k = started()
        _ = k.timerFired(nowNs: ms(1000), hasStreams: true)
        XCTAssertEqual(k.timerFired(nowNs: ms(1500), hasStreams: true), .declareDead)
        XCTAssertTrue(k.isDead)
        // Dead is final.
        XCTAssertEqual(k.timerFired(nowNs: ms(3000), hasStreams: true), .none)
        XCTAssertEqual(k.pingAcknowledged(nowNs: ms(3000)), .none)
        XCTAssertEqual(k.streamStarted(nowNs: ms(3000)), .none)
        k.stop()
        XCTAssertTrue(k.isDead)
    }

    func testTimerFiredWhenOutstandingAfterAReadMovesTheDeadlineFromTheRead() {
        var k = started()
        _ = k.timerFired(nowNs: ms(1000), hasStreams: true)
        k.receivedBytes(nowNs: ms(1200))  // data, but no ACK yet: the peer is alive
        XCTAssertEqual(k.timerFired(nowNs: ms(1500), hasStreams: true), .armTimer(atNs: ms(1700)))
        XCTAssertEqual(k.state, .pingOutstanding(sentAtNs: ms(1000)))
        XCTAssertEqual(k.timerFired(nowNs: ms(1700), hasStreams: true), .declareDead)
    }

    func testTimerFiredWhenOutstandingDoesNotSendASecondPing() {
        var k = started()
        _ = k.timerFired(nowNs: ms(1000), hasStreams: true)
        k.receivedBytes(nowNs: ms(1400))
        _ = k.timerFired(nowNs: ms(1500), hasStreams: true)
        XCTAssertEqual(k.pingsSent, 1)
    }

    func testDetectionTakesAtMostTimePlusTimeoutAfterTheLastRead() {
        var k = started()
        k.receivedBytes(nowNs: ms(250))  // the peer's last byte
        var now: Int64 = ms(1000)
        var action = k.timerFired(nowNs: now, hasStreams: true)
        while action != .declareDead {
            switch action {
            case .armTimer(let at), .sendPing(let at): now = at
            case .none, .declareDead: return XCTFail("the machine stopped before declaring the peer dead")
            }
            action = k.timerFired(nowNs: now, hasStreams: true)
        }
        XCTAssertEqual(now, ms(250 + 1000 + 500))
    }

    // MARK: without calls

    func testStreamStartedWhenIdleAndStalePingsBeforeTheStream() {
        var k = machine()
        _ = k.start(nowNs: 0, hasStreams: false)
        XCTAssertEqual(k.streamStarted(nowNs: ms(5000)), .sendPing(timeoutAtNs: ms(5500)))
        XCTAssertEqual(k.state, .pingOutstanding(sentAtNs: ms(5000)))
    }

    func testStreamStartedWhenIdleAndFreshArmsFromTheLastRead() {
        var k = machine()
        _ = k.start(nowNs: 0, hasStreams: false)
        k.receivedBytes(nowNs: ms(300))
        XCTAssertEqual(k.streamStarted(nowNs: ms(400)), .armTimer(atNs: ms(1300)))
        XCTAssertEqual(k.state, .waiting(pingAtNs: ms(1300)))
    }

    func testStreamStartedWhenNotIdleDoesNothing() {
        var k = started()
        XCTAssertEqual(k.streamStarted(nowNs: ms(5000)), .none)
        _ = k.timerFired(nowNs: ms(5000), hasStreams: true)
        XCTAssertEqual(k.streamStarted(nowNs: ms(5001)), .none)
        XCTAssertEqual(k.pingsSent, 1)
    }

    func testStreamStartedWhenNotStartedDoesNothing() {
        var k = machine()
        XCTAssertEqual(k.streamStarted(nowNs: ms(5000)), .none)
        XCTAssertEqual(k.state, .notStarted)
    }

    func testIdleConnectionHoldsNoTimerUntilAStreamStarts() {
        var k = started()
        _ = k.timerFired(nowNs: ms(1000), hasStreams: true)
        _ = k.pingAcknowledged(nowNs: ms(1001))
        // The calls ended: the next firing finds no stream and leaves the machine idle.
        XCTAssertEqual(k.timerFired(nowNs: ms(2001), hasStreams: false), .none)
        XCTAssertEqual(k.state, .idle)
        // A stale timer does nothing.
        XCTAssertEqual(k.timerFired(nowNs: ms(9000), hasStreams: true), .none)
        XCTAssertEqual(k.pingsSent, 1)
    }

    // MARK: stop

    func testStopWhenWaitingIgnoresLaterEvents() {
        var k = started()
        k.stop()
        XCTAssertEqual(k.state, .stopped)
        XCTAssertEqual(k.timerFired(nowNs: ms(1000), hasStreams: true), .none)
        XCTAssertEqual(k.streamStarted(nowNs: ms(1000)), .none)
        XCTAssertFalse(k.isDead)
    }

    // MARK: limits

    func testHugeTimesSaturateInsteadOfTrapping() {
        var k = KeepaliveStateMachine(timeMs: Int64.max, timeoutMs: Int64.max, permitWithoutCalls: true)
        XCTAssertEqual(k.start(nowNs: ms(1), hasStreams: false), .armTimer(atNs: Int64.max))
        XCTAssertEqual(k.timerFired(nowNs: Int64.max, hasStreams: true), .sendPing(timeoutAtNs: Int64.max))
    }

    func testNonPositiveDurationsCountAsOneMillisecond() {
        let k = KeepaliveStateMachine(timeMs: 0, timeoutMs: -5, permitWithoutCalls: false)
        XCTAssertEqual(k.timeMs, 1)
        XCTAssertEqual(k.timeoutMs, 1)
    }

    func testInitFromPolicyTakesItsCurrentTime() {
        var policy = KeepalivePolicy(timeMs: 1000, timeoutMs: 300, permitWithoutCalls: true)
        _ = policy.tooManyPings(connectionTimeMs: 1000)
        let k = KeepaliveStateMachine(policy: policy)
        XCTAssertEqual(k.timeMs, 2000)
        XCTAssertEqual(k.timeoutMs, 300)
        XCTAssertTrue(k.permitWithoutCalls)
    }
}
