/// `round_robin`: each pickable endpoint in turn.
///
/// The turn walks the pickable set; an endpoint that leaves it is replaced by the
/// last one, so the order may change when the set does, but while it is stable every
/// window of `count` picks visits each endpoint once.
///
/// ```swift
/// let rr = RoundRobinBalancer()
/// rr.endpointsChanged(added: [0, 1], removed: [], nowNs: 0)
/// rr.connectivityChanged(0, pickable: true); rr.connectivityChanged(1, pickable: true)
/// rr.pick(nowNs: 0)  // 0, then 1, 0, 1, ...
/// ```
package final class RoundRobinBalancer: LoadBalancer {
    private var ready = PickableSet()
    private var next = 0
    private var slowStart: SlowStart
    private var rng: SplitMix64

    /// With `slowStart` on, an endpoint in its ramp takes its turn with probability
    /// equal to its weight factor (otherwise the next one takes it).
    package init(seed: UInt64 = 1, slowStart: SlowStart = SlowStart()) {
        self.slowStart = slowStart
        self.rng = SplitMix64(seed: seed)
    }

    package var policy: LBPolicy { .roundRobin }

    package func endpointsChanged(added: [Int], removed: [Int], nowNs: Int64) {
        for slot in removed {
            ready.remove(slot)
            slowStart.reset(slot)
        }
    }

    package func endpointReady(_ slot: Int, nowNs: Int64) { slowStart.started(slot, nowNs: nowNs) }

    package func connectivityChanged(_ slot: Int, pickable: Bool) { ready.set(slot, pickable) }

    package func callStarted(_ slot: Int) {}

    package func callFinished(_ slot: Int, status: StatusCode, latencyNs: Int64, nowNs: Int64) {}

    package func pick(nowNs: Int64) -> Int? {
        let count = ready.count
        guard count > 0 else { return nil }
        if next >= count { next = 0 }
        var slot = ready[next]
        next += 1
        if slowStart.isEnabled {
            // A ramping endpoint passes its turn on with probability 1 - factor (at most
            // 64 times in a row: O(1), and fair when several ramp at once).
            for _ in 0..<64 {
                if slowStart.admits(slot, nowNs: nowNs, rng: &rng) { break }
                if next >= count { next = 0 }
                slot = ready[next]
                next += 1
            }
        }
        return slot
    }

    package func cost(_ slot: Int, nowNs: Int64) -> Double { 0 }
}
