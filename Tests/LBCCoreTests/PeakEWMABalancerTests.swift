import Glibc
import XCTest
@testable import LBCCore

final class PeakEWMABalancerTests: XCTestCase {
    private let ms: Int64 = 1_000_000
    private let decay: Int64 = 10_000_000_000  // 10 s

    private func make(count: Int, seed: UInt64 = 1) -> PeakEWMABalancer {
        let b = PeakEWMABalancer(decayNs: decay, seed: seed)
        b.endpointsChanged(added: Array(0..<count), removed: [], nowNs: 0)
        for slot in 0..<count { b.connectivityChanged(slot, pickable: true) }
        return b
    }

    func testPickWhenOneEndpointIsSlowerPrefersTheFastOne() {
        let b = make(count: 2)
        b.callFinished(0, status: .ok, latencyNs: 100 * ms, nowNs: 1 * ms)
        b.callFinished(1, status: .ok, latencyNs: 10 * ms, nowNs: 1 * ms)
        for _ in 0..<50 { XCTAssertEqual(b.pick(nowNs: 2 * ms), 1) }
    }

    func testCostIsLatencyTimesOutstandingPlusOne() {
        let b = make(count: 2)
        b.callFinished(0, status: .ok, latencyNs: 10 * ms, nowNs: 0)
        XCTAssertEqual(b.cost(0, nowNs: 0), 10_000, accuracy: 1)  // µs
        b.callStarted(0)
        b.callStarted(0)
        XCTAssertEqual(b.cost(0, nowNs: 0), 30_000, accuracy: 1)
        // Three calls outstanding on a 10 ms endpoint cost more than none on a 35 ms one.
        b.callFinished(1, status: .ok, latencyNs: 35 * ms, nowNs: 0)
        b.callStarted(0)
        XCTAssertEqual(b.pick(nowNs: 0), 1)
    }

    func testCallFinishedWhenLatencyPeaksReplacesTheAverageAtOnce() {
        let b = make(count: 1)
        b.callFinished(0, status: .ok, latencyNs: 10 * ms, nowNs: 0)
        b.callFinished(0, status: .ok, latencyNs: 200 * ms, nowNs: 1 * ms)
        XCTAssertEqual(b.averageLatencyNs(0, nowNs: 1 * ms)!, Double(200 * ms), accuracy: Double(ms))
    }

    func testCallFinishedWhenFasterBlendsByElapsedTime() {
        let b = make(count: 1)
        b.callFinished(0, status: .ok, latencyNs: 100 * ms, nowNs: 0)
        // One decay time later a 0-ish sample gets weight 1 - e^-1.
        b.callFinished(0, status: .ok, latencyNs: 1, nowNs: decay)
        XCTAssertEqual(b.averageLatencyNs(0, nowNs: decay)!, 100e6 * exp(-1.0), accuracy: 1e5)
        // Many quick samples barely move it: the weight depends on time, not on count.
        let c = make(count: 1)
        c.callFinished(0, status: .ok, latencyNs: 100 * ms, nowNs: 0)
        for i in 1...1000 { c.callFinished(0, status: .ok, latencyNs: 1, nowNs: Int64(i) * 1000) }
        XCTAssertGreaterThan(c.averageLatencyNs(0, nowNs: 1_000_000)!, 99e6)
    }

    func testAverageDecaysWhileNobodyPicksTheEndpoint() {
        let b = make(count: 1)
        b.callFinished(0, status: .ok, latencyNs: 100 * ms, nowNs: 0)
        XCTAssertEqual(b.averageLatencyNs(0, nowNs: 2 * decay)!, 100e6 * exp(-2.0), accuracy: 1e5)
    }

    func testNewEndpointStartsNeutralNotFree() {
        // Two endpoints at 10 ms; a third joins: it costs the channel average, so it is
        // not preferred over an idle known endpoint, nor avoided.
        let b = make(count: 2)
        b.callFinished(0, status: .ok, latencyNs: 10 * ms, nowNs: 0)
        b.callFinished(1, status: .ok, latencyNs: 10 * ms, nowNs: 0)
        b.endpointsChanged(added: [2], removed: [], nowNs: 0)
        b.connectivityChanged(2, pickable: true)
        XCTAssertEqual(b.cost(2, nowNs: 0), 10_000, accuracy: 1)
        XCTAssertNil(b.averageLatencyNs(2, nowNs: 0))
        var counts = [0, 0, 0]
        for _ in 0..<3000 { counts[b.pick(nowNs: 0)!] += 1 }
        for c in counts { XCTAssert((800...1200).contains(c), "\(counts)") }
        // Its first latency becomes its average.
        b.callFinished(2, status: .ok, latencyNs: 3 * ms, nowNs: 0)
        XCTAssertEqual(b.averageLatencyNs(2, nowNs: 0)!, Double(3 * ms), accuracy: 1)
    }

    func testRefusedCallsLeaveTheAverageAlone() {
        let b = make(count: 1)
        b.callFinished(0, status: .ok, latencyNs: 50 * ms, nowNs: 0)
        b.callStarted(0)
        b.callFinished(0, status: .unavailable, latencyNs: -1, nowNs: 0)
        XCTAssertEqual(b.averageLatencyNs(0, nowNs: 0)!, Double(50 * ms), accuracy: 1)
        XCTAssertEqual(b.cost(0, nowNs: 0), 50_000, accuracy: 1)
    }

    func testSlowEndpointGetsASmallShareUnderConcurrentLoad() {
        // Simulated: 16 callers, four endpoints, one 10x slower. Each tick of 1 ms every
        // finished call is replaced by a new one.
        let b = make(count: 4, seed: 9)
        let latency: [Int64] = [100 * ms, 10 * ms, 10 * ms, 10 * ms]
        var running: [(slot: Int, end: Int64, start: Int64)] = []
        var started = [0, 0, 0, 0]
        var now: Int64 = 0
        for _ in 0..<16 {
            let s = b.pick(nowNs: now)!
            b.callStarted(s); started[s] += 1
            running.append((s, now + latency[s], now))
        }
        while now < 20_000 * ms {
            now += ms
            var i = 0
            while i < running.count {
                if running[i].end <= now {
                    let r = running.remove(at: i)
                    b.callFinished(r.slot, status: .ok, latencyNs: now - r.start, nowNs: now)
                    let s = b.pick(nowNs: now)!
                    b.callStarted(s); started[s] += 1
                    running.append((s, now + latency[s], now))
                } else {
                    i += 1
                }
            }
        }
        let share = Double(started[0]) / Double(started.reduce(0, +))
        XCTAssertLessThan(share, 0.03, "\(started)")
    }

    func testRemovedAndReaddedSlotStartsOver() {
        let b = make(count: 2)
        b.callFinished(0, status: .ok, latencyNs: 10 * ms, nowNs: 0)
        b.callStarted(0)
        b.endpointsChanged(added: [], removed: [0], nowNs: 0)
        b.endpointsChanged(added: [0], removed: [], nowNs: 0)
        XCTAssertNil(b.averageLatencyNs(0, nowNs: 0))
        XCTAssertEqual(b.cost(0, nowNs: 0), 10_000, accuracy: 1)  // neutral, no outstanding
    }
}
