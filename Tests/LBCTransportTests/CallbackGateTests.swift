import XCTest
@testable import LBCTransport

final class CallbackGateTests: XCTestCase {
    func testRunWhenOpenCallsTheBodyAndCountsItWhileItRuns() {
        let gate = CallbackGate()
        XCTAssertFalse(gate.isRunning)
        let result: Int? = gate.run {
            XCTAssertTrue(gate.isRunning)
            return 7
        }
        XCTAssertEqual(result, 7)
        XCTAssertFalse(gate.isRunning)
    }

    func testRunWhenMutedSkipsTheBody() {
        let gate = CallbackGate()
        gate.mute()
        var called = false
        let result: Int? = gate.run { called = true; return 1 }
        XCTAssertNil(result)
        XCTAssertFalse(called)
        XCTAssertFalse(gate.isRunning)
    }

    func testMuteWhenRunningLetsTheRunningCallbackFinish() {
        let gate = CallbackGate()
        var innerRan = false
        let outer: Int? = gate.run {
            gate.mute()                            // close gives up while this one runs
            XCTAssertTrue(gate.isRunning)
            let inner: Int? = gate.run { innerRan = true; return 2 }   // nothing new starts
            XCTAssertNil(inner)
            return 1
        }
        XCTAssertEqual(outer, 1)
        XCTAssertFalse(innerRan)
        XCTAssertFalse(gate.isRunning)
    }
}
