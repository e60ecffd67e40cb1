import Glibc

/// `peak_ewma` (Finagle, Linkerd, tower): each endpoint's cost is a peak-sensitive,
/// time-decayed moving average of its call latency × (outstanding calls + 1); power of
/// two random choices picks the cheaper of two pickable endpoints.
///
/// - A latency above the average replaces it at once (peak-sensitive); a lower one is
///   blended in with weight `1 - exp(-Δt / decay)`, Δt being the time since the last
///   update, so the average forgets at the same rate however many calls arrive.
/// - Read for a pick, the average also decays towards 0 with the time since its last
///   update (`× exp(-Δt / decay)`): an endpoint nobody picked becomes cheaper and is
///   tried again.
/// - An endpoint without a latency yet is *neutral*: it costs the channel-wide average
///   latency (decayed the same way), neither flooded with calls nor starved; its first
///   latency becomes its average.
///
/// ```swift
/// let ewma = PeakEWMABalancer(decayNs: 10_000_000_000, seed: 1)
/// ewma.endpointsChanged(added: [0, 1], removed: [], nowNs: 0)
/// ewma.connectivityChanged(0, pickable: true); ewma.connectivityChanged(1, pickable: true)
/// ewma.callFinished(0, status: .ok, latencyNs: 50_000_000, nowNs: 1)  // slow
/// ewma.callFinished(1, status: .ok, latencyNs: 1_000_000, nowNs: 1)   // fast
/// ewma.pick(nowNs: 2)  // 1
/// ```
package final class PeakEWMABalancer: LoadBalancer {
    private var ready = PickableSet()
    private var outstanding: [Int] = []
    /// Latency average (ns) per slot as of `stampNs`; negative: no latency yet.
    private var averageNs: [Double] = []
    private var stampNs: [Int64] = []
    /// The channel-wide average (a neutral endpoint's cost), negative before the first call.
    private var channelAverageNs = -1.0
    private var channelStampNs: Int64 = 0
    private var rng: SplitMix64
    private let decayNs: Double

    private var slowStart: SlowStart

    /// `decayNs`: the time constant of the averages (> 0; Finagle's and Linkerd's is 10 s).
    /// With `slowStart` on, a drawn endpoint in its ramp takes part with probability
    /// equal to its factor.
    package init(decayNs: Int64, seed: UInt64, slowStart: SlowStart = SlowStart()) {
        self.decayNs = Double(max(1, decayNs))
        self.rng = SplitMix64(seed: seed)
        self.slowStart = slowStart
    }

    package func endpointReady(_ slot: Int, nowNs: Int64) { slowStart.started(slot, nowNs: nowNs) }

    package var policy: LBPolicy { .peakEWMA }

    package func endpointsChanged(added: [Int], removed: [Int], nowNs: Int64) {
        for slot in removed {
            ready.remove(slot)
            slowStart.reset(slot)
        }
        for slot in added {
            outstanding.grow(toInclude: slot)
            averageNs.grow(toInclude: slot)
            stampNs.grow(toInclude: slot)
            outstanding[slot] = 0
            averageNs[slot] = -1
            stampNs[slot] = nowNs
        }
    }

    package func connectivityChanged(_ slot: Int, pickable: Bool) { ready.set(slot, pickable) }

    @inline(__always)
    package func callStarted(_ slot: Int) { outstanding[slot] += 1 }

    package func callFinished(_ slot: Int, status: StatusCode, latencyNs: Int64, nowNs: Int64) {
        if outstanding[slot] > 0 { outstanding[slot] -= 1 }
        let sample = Double(max(1, latencyNs))
        averageNs[slot] = Self.update(averageNs[slot], stamp: stampNs[slot], sample: sample, nowNs: nowNs, decayNs: decayNs)
        stampNs[slot] = nowNs
        channelAverageNs = Self.update(channelAverageNs, stamp: channelStampNs, sample: sample, nowNs: nowNs,
                                       decayNs: decayNs, peak: false)
        channelStampNs = nowNs
    }

    /// Fold `sample` into `average` (negative: none yet).
    @inline(__always)
    private static func update(_ average: Double, stamp: Int64, sample: Double, nowNs: Int64, decayNs: Double,
                               peak: Bool = true) -> Double {
        if average < 0 || (peak && sample > average) { return sample }
        let w = exp(-Double(max(0, nowNs &- stamp)) / decayNs)
        return average * w + sample * (1 - w)
    }

    /// The latency estimate of `slot` at `nowNs`, decayed since its last update.
    @inline(__always)
    private func latency(_ slot: Int, nowNs: Int64) -> Double {
        let average = averageNs[slot]
        if average >= 0 {
            return average * exp(-Double(max(0, nowNs &- stampNs[slot])) / decayNs)
        }
        if channelAverageNs < 0 { return 1 }  // nobody has a latency: all equal
        return channelAverageNs * exp(-Double(max(0, nowNs &- channelStampNs)) / decayNs)
    }

    package func pick(nowNs: Int64) -> Int? {
        let count = ready.count
        if count <= 1 { return count == 1 ? ready[0] : nil }
        let (i, j) = ready.drawTwo(&rng)
        let a = ready[i], b = ready[j]
        if slowStart.isEnabled {
            // A ramping candidate takes part with probability equal to its factor.
            let takeA = slowStart.admits(a, nowNs: nowNs, rng: &rng)
            let takeB = slowStart.admits(b, nowNs: nowNs, rng: &rng)
            if takeA != takeB { return takeA ? a : b }
            if !takeA { return slowStart.factor(b, nowNs: nowNs) > slowStart.factor(a, nowNs: nowNs) ? b : a }
        }
        return load(b, nowNs: nowNs) < load(a, nowNs: nowNs) ? b : a
    }

    @inline(__always)
    private func load(_ slot: Int, nowNs: Int64) -> Double {
        latency(slot, nowNs: nowNs) * Double(outstanding[slot] + 1)
    }

    /// Latency estimate in µs × (outstanding + 1).
    package func cost(_ slot: Int, nowNs: Int64) -> Double {
        guard slot < averageNs.count else { return 0 }
        return load(slot, nowNs: nowNs) / 1000
    }

    /// The latency average of `slot` in ns as of now (decayed), nil before its first call.
    package func averageLatencyNs(_ slot: Int, nowNs: Int64) -> Double? {
        guard slot < averageNs.count, averageNs[slot] >= 0 else { return nil }
        return latency(slot, nowNs: nowNs)
    }
}
