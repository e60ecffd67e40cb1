/// `least_request` (gRFC A48): draw `choiceCount` random pickable endpoints and take
/// the one with the fewest outstanding calls (power of two choices by default).
///
/// The first two draws are distinct endpoints; further ones may repeat. O(choiceCount)
/// per pick whatever the number of endpoints.
///
/// ```swift
/// let lr = LeastRequestBalancer(choiceCount: 2, seed: 1)
/// lr.endpointsChanged(added: [0, 1], removed: [], nowNs: 0)
/// lr.connectivityChanged(0, pickable: true); lr.connectivityChanged(1, pickable: true)
/// lr.callStarted(0)
/// lr.pick(nowNs: 0)  // 1: it has fewer calls outstanding
/// ```
package final class LeastRequestBalancer: LoadBalancer {
    private var ready = PickableSet()
    /// Calls outstanding per slot.
    private var outstanding: [Int] = []
    private var rng: SplitMix64
    private let choiceCount: Int
    private var slowStart: SlowStart

    /// `choiceCount` >= 2 (smaller values are raised to 2). With `slowStart` on, a
    /// drawn endpoint in its ramp takes part with probability equal to its factor.
    package init(choiceCount: Int = 2, seed: UInt64, slowStart: SlowStart = SlowStart()) {
        self.choiceCount = max(2, choiceCount)
        self.rng = SplitMix64(seed: seed)
        self.slowStart = slowStart
    }

    package func endpointReady(_ slot: Int, nowNs: Int64) { slowStart.started(slot, nowNs: nowNs) }

    package var policy: LBPolicy { .leastRequest }

    package func endpointsChanged(added: [Int], removed: [Int], nowNs: Int64) {
        for slot in removed {
            ready.remove(slot)
            slowStart.reset(slot)
        }
        for slot in added {
            outstanding.grow(toInclude: slot)
            outstanding[slot] = 0
        }
    }

    package func connectivityChanged(_ slot: Int, pickable: Bool) { ready.set(slot, pickable) }

    @inline(__always)
    package func callStarted(_ slot: Int) { outstanding[slot] += 1 }

    @inline(__always)
    package func callFinished(_ slot: Int, status: StatusCode, latencyNs: Int64, nowNs: Int64) {
        if outstanding[slot] > 0 { outstanding[slot] -= 1 }
    }

    package func pick(nowNs: Int64) -> Int? {
        let count = ready.count
        if count <= 1 { return count == 1 ? ready[0] : nil }
        let (i, j) = ready.drawTwo(&rng)
        if slowStart.isEnabled { return pickRamping(i, j, count: count, nowNs: nowNs) }
        var best = ready[i]
        var bestLoad = outstanding[best]
        let other = ready[j]
        if outstanding[other] < bestLoad {
            best = other
            bestLoad = outstanding[other]
        }
        if choiceCount > 2 {
            for _ in 2..<choiceCount {
                let candidate = ready[rng.below(count)]
                if outstanding[candidate] < bestLoad {
                    best = candidate
                    bestLoad = outstanding[candidate]
                }
            }
        }
        return best
    }

    /// `pick` with slow start: a ramping candidate takes part with probability equal
    /// to its weight factor; the fewest outstanding calls among the rest wins.
    private func pickRamping(_ i: Int, _ j: Int, count: Int, nowNs: Int64) -> Int {
        var best = -1
        var bestLoad = Int.max
        var fallback = ready[i]
        var candidate = ready[i]
        var k = 0
        while true {
            if slowStart.admits(candidate, nowNs: nowNs, rng: &rng) {
                if outstanding[candidate] < bestLoad {
                    best = candidate
                    bestLoad = outstanding[candidate]
                }
            } else if slowStart.factor(candidate, nowNs: nowNs) > slowStart.factor(fallback, nowNs: nowNs) {
                fallback = candidate
            }
            k += 1
            if k >= choiceCount { return best >= 0 ? best : fallback }
            candidate = k == 1 ? ready[j] : ready[rng.below(count)]
        }
    }

    package func cost(_ slot: Int, nowNs: Int64) -> Double {
        slot < outstanding.count ? Double(outstanding[slot]) : 0
    }
}
