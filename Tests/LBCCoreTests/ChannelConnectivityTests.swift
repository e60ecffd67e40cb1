import XCTest
@testable import LBCCore

/// gRPC's aggregation rules, the empty-set policy and SHUTDOWN (ChannelConnectivity).
final class ChannelConnectivityTests: XCTestCase {
    private typealias Change = ChannelConnectivity.Change

    func testEndpointReadyWhenConnectingMakesTheChannelReady() {
        var c = ChannelConnectivity(emptyState: .connecting)
        XCTAssertEqual(c.state, .connecting)
        XCTAssertEqual(c.endpointAdded(.idle), Change(old: .connecting, new: .idle))
        XCTAssertEqual(c.endpointChanged(from: .idle, to: .connecting), Change(old: .idle, new: .connecting))
        XCTAssertEqual(c.endpointChanged(from: .connecting, to: .ready), Change(old: .connecting, new: .ready))
        XCTAssertEqual(c.state, .ready)
    }

    func testAnyReadyEndpointKeepsTheChannelReady() {
        var c = ChannelConnectivity(emptyState: .connecting)
        _ = c.endpointAdded(.ready)
        XCTAssertNil(c.endpointAdded(.transientFailure))
        XCTAssertNil(c.endpointAdded(.connecting))
        XCTAssertNil(c.endpointAdded(.idle))
        XCTAssertEqual(c.state, .ready)
        // The READY one fails: CONNECTING wins over IDLE and TRANSIENT_FAILURE.
        XCTAssertEqual(c.endpointChanged(from: .ready, to: .transientFailure), Change(old: .ready, new: .connecting))
        // The connecting one fails too: IDLE wins over TRANSIENT_FAILURE.
        XCTAssertEqual(c.endpointChanged(from: .connecting, to: .transientFailure), Change(old: .connecting, new: .idle))
        // And the idle one: every endpoint fails.
        XCTAssertEqual(c.endpointChanged(from: .idle, to: .transientFailure), Change(old: .idle, new: .transientFailure))
        XCTAssertEqual(c.count(.transientFailure), 4)
        XCTAssertEqual(c.endpointCount, 4)
    }

    func testSameStateChangeReportsNothing() {
        var c = ChannelConnectivity(emptyState: .connecting)
        _ = c.endpointAdded(.ready)
        XCTAssertNil(c.endpointChanged(from: .ready, to: .ready))
        XCTAssertEqual(c.count(.ready), 1)
    }

    func testRemovingTheLastEndpointBeforeAnAnswerGoesBackToTheEmptyState() {
        var c = ChannelConnectivity(emptyState: .connecting)
        _ = c.endpointAdded(.ready)
        XCTAssertEqual(c.endpointRemoved(.ready), Change(old: .ready, new: .connecting))
        XCTAssertEqual(c.endpointCount, 0)
    }

    func testDiscoveryAnsweredWithNoEndpointIsTransientFailure() {
        var c = ChannelConnectivity(emptyState: .connecting)
        XCTAssertEqual(c.discoveryAnswered(), Change(old: .connecting, new: .transientFailure))
        XCTAssertEqual(c.endpointAdded(.connecting), Change(old: .transientFailure, new: .connecting))
        XCTAssertEqual(c.endpointRemoved(.connecting), Change(old: .connecting, new: .transientFailure))
    }

    func testDiscoveryAnsweredWithEndpointsChangesNothing() {
        var c = ChannelConnectivity(emptyState: .connecting)
        _ = c.endpointAdded(.connecting)
        XCTAssertNil(c.discoveryAnswered())
        XCTAssertEqual(c.state, .connecting)
    }

    func testManualChannelIsIdleUntilItsFirstPush() {
        var c = ChannelConnectivity(emptyState: .idle)
        XCTAssertEqual(c.state, .idle)
        XCTAssertEqual(c.discoveryAnswered(), Change(old: .idle, new: .transientFailure))
    }

    func testShutDownWhenReadyIsFinal() {
        var c = ChannelConnectivity(emptyState: .connecting)
        _ = c.endpointAdded(.ready)
        XCTAssertEqual(c.shutDown(), Change(old: .ready, new: .shutdown))
        XCTAssertNil(c.shutDown())
        XCTAssertNil(c.endpointChanged(from: .ready, to: .transientFailure))
        XCTAssertNil(c.endpointRemoved(.ready))
        XCTAssertNil(c.endpointAdded(.ready))
        XCTAssertNil(c.discoveryAnswered())
        XCTAssertEqual(c.state, .shutdown)
    }

    func testStateRawValuesAreTheCAPIConstants() {
        XCTAssertEqual(ChannelConnectivity.State.allCases.map(\.rawValue), [0, 1, 2, 3, 4])
        XCTAssertEqual(ChannelConnectivity.State.allCases.map(\.name),
                       ["IDLE", "CONNECTING", "READY", "TRANSIENT_FAILURE", "SHUTDOWN"])
        XCTAssertEqual(ChannelConnectivity.State(.transientFailure), .transientFailure)
    }

    /// Many endpoints: the state follows the counts exactly, against a from-scratch
    /// recomputation after every random event.
    func testRandomEventsMatchARecomputationFromScratch() {
        var rng = SystemRandomNumberGenerator()
        let states: [ConnectivityState] = [.idle, .connecting, .ready, .transientFailure]
        var c = ChannelConnectivity(emptyState: .connecting)
        var endpoints: [ConnectivityState] = []
        var answered = false
        for _ in 0..<5000 {
            let before = c.state
            var change: Change?
            switch Int.random(in: 0..<10, using: &rng) {
            case 0, 1:
                let s = states.randomElement(using: &rng)!
                endpoints.append(s)
                change = c.endpointAdded(s)
            case 2 where !endpoints.isEmpty:
                let i = Int.random(in: 0..<endpoints.count, using: &rng)
                change = c.endpointRemoved(endpoints.remove(at: i))
            case 3:
                answered = true
                change = c.discoveryAnswered()
            default:
                guard !endpoints.isEmpty else { continue }
                let i = Int.random(in: 0..<endpoints.count, using: &rng)
                let s = states.randomElement(using: &rng)!
                change = c.endpointChanged(from: endpoints[i], to: s)
                endpoints[i] = s
            }
            let expected: ChannelConnectivity.State
            if endpoints.contains(.ready) { expected = .ready }
            else if endpoints.contains(.connecting) { expected = .connecting }
            else if endpoints.contains(.idle) { expected = .idle }
            else if !endpoints.isEmpty { expected = .transientFailure }
            else { expected = answered ? .transientFailure : .connecting }
            XCTAssertEqual(c.state, expected)
            XCTAssertEqual(change, before == expected ? nil : Change(old: before, new: expected))
            XCTAssertEqual(c.endpointCount, endpoints.count)
        }
    }
}
