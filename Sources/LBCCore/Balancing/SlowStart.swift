/// Slow start (Envoy's `slow_start_config`): an endpoint that has just become READY
/// takes a growing share of the calls over a window instead of a full share at once.
///
/// Its weight factor rises linearly from `minFactor` to 1 over `windowNs` after it
/// (re)connected; a balancer admits a ramping endpoint it drew with that probability
/// (round_robin passes its turn on, least_request and peak_ewma compare the other
/// candidates), so its share grows with the factor. Off (factor 1, no work) when the
/// window is 0.
///
/// ```swift
/// var slow = SlowStart(windowNs: 10_000_000_000, minFactor: 0.1)
/// slow.started(3, nowNs: 0)
/// slow.factor(3, nowNs: 5_000_000_000)   // 0.55
/// ```
package struct SlowStart: Sendable {
    /// Length of the ramp; 0 turns slow start off.
    package let windowNs: Int64
    /// The factor right after the endpoint became READY (0 < minFactor <= 1).
    package let minFactor: Double
    /// When each slot's ramp ends (monotonic ns); 0 when not ramping.
    private var endNs: [Int64] = []

    package init(windowNs: Int64 = 0, minFactor: Double = 0.1) {
        self.windowNs = max(0, windowNs)
        self.minFactor = min(max(minFactor, 0.01), 1)
    }

    @inline(__always)
    package var isEnabled: Bool { windowNs > 0 }

    /// `slot` became READY at `nowNs`: its ramp starts.
    package mutating func started(_ slot: Int, nowNs: Int64) {
        guard isEnabled else { return }
        endNs.grow(toInclude: slot)
        endNs[slot] = nowNs &+ windowNs
    }

    /// `slot` left the set: forget its ramp.
    package mutating func reset(_ slot: Int) {
        if slot < endNs.count { endNs[slot] = 0 }
    }

    /// Whether a drawn `slot` takes part in this pick: always after its ramp, else with
    /// probability `factor`.
    @inline(__always)
    package func admits(_ slot: Int, nowNs: Int64, rng: inout SplitMix64) -> Bool {
        let f = factor(slot, nowNs: nowNs)
        return f >= 1 || Double(rng.next() >> 11) * 0x1p-53 < f
    }

    /// The weight factor of `slot` at `nowNs`: `minFactor`...1, 1 once the ramp is over.
    @inline(__always)
    package func factor(_ slot: Int, nowNs: Int64) -> Double {
        guard slot < endNs.count else { return 1 }
        let end = endNs[slot]
        if end == 0 || nowNs >= end { return 1 }
        let progress = 1 - Double(end - nowNs) / Double(windowNs)
        return minFactor + (1 - minFactor) * max(0, progress)
    }
}
