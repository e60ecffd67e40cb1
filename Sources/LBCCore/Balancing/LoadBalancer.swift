/// A load-balancing policy: told what happens to the channel's endpoints and calls,
/// asked to pick the endpoint of each new call.
///
/// Endpoints are named by *slot*: a small integer the channel gives each endpoint of
/// its set (reused after the endpoint leaves). Only pickable slots are picked: an
/// endpoint is pickable when its ``EndpointState`` says so (READY, active, not
/// ejected, free stream slots), and the channel reports every change of that with
/// ``connectivityChanged(_:pickable:)``.
///
/// Balancers do no I/O: the clock comes in as `nowNs` (monotonic nanoseconds) and
/// randomness from a seeded ``SplitMix64``. Every `pick` is O(1) or O(choice count)
/// in the number of endpoints and allocates nothing. They are classes so the channel
/// keeps one reference and every event mutates the balancer in place; loop thread only.
///
/// Adding a policy: one file with a `final class` conforming to this protocol, a case
/// in ``LBPolicy`` and a line in ``LoadBalancers/make(options:seed:)``.
///
/// ```swift
/// let balancer = LoadBalancers.make(options: options, seed: 42)
/// balancer.endpointsChanged(added: [0, 1], removed: [], nowNs: now)
/// balancer.connectivityChanged(0, pickable: true)
/// if let slot = balancer.pick(nowNs: now) {
///     balancer.callStarted(slot)
///     // ... later
///     balancer.callFinished(slot, status: .ok, latencyNs: 2_000_000, nowNs: now + 2_000_000)
/// }
/// ```
package protocol LoadBalancer: AnyObject {
    /// The policy this balancer implements.
    var policy: LBPolicy { get }

    /// Slots joined (`added`, not pickable yet) or left (`removed`) the endpoint set.
    /// A removed slot forgets everything; its calls still running are not reported.
    func endpointsChanged(added: [Int], removed: [Int], nowNs: Int64)

    /// The endpoint in `slot` became pickable or stopped being pickable (connectivity,
    /// admin state, ejection or free stream slots changed).
    func connectivityChanged(_ slot: Int, pickable: Bool)

    /// The endpoint in `slot` (re)connected, came back to SERVING after a failed health
    /// check or returned from an ejection at `nowNs`: slow start ramps its share from here.
    func endpointReady(_ slot: Int, nowNs: Int64)

    /// The endpoint in `slot` got a new weight (>= 1; 1 unless its address says otherwise).
    func weightChanged(_ slot: Int, weight: Int)

    /// A call was put on `slot`.
    func callStarted(_ slot: Int)

    /// A call put on `slot` ended with `status` after `latencyNs`.
    func callFinished(_ slot: Int, status: StatusCode, latencyNs: Int64, nowNs: Int64)

    /// The slot for a new call, nil when no endpoint is pickable.
    func pick(nowNs: Int64) -> Int?

    /// The balancer's current cost of `slot` (lower is preferred) for the stats
    /// snapshot: outstanding calls, latency × load, or 0 for policies without one.
    func cost(_ slot: Int, nowNs: Int64) -> Double
}

extension LoadBalancer {
    /// Policies without slow start ignore reconnections.
    package func endpointReady(_ slot: Int, nowNs: Int64) {}

    /// Policies without weights ignore them.
    package func weightChanged(_ slot: Int, weight: Int) {}
}

/// The registry of balancers by policy.
package enum LoadBalancers {
    /// The balancer `options.lbPolicy` names, configured from `options`.
    package static func make(options: ChannelOptions,
                             seed: UInt64 = UInt64.random(in: .min ... .max)) -> any LoadBalancer {
        let slowStart = SlowStart(windowNs: options.slowStartWindowMs * 1_000_000,
                                  minFactor: Double(options.slowStartMinWeightPercent) / 100)
        switch options.lbPolicy {
        case .leastRequest:
            return LeastRequestBalancer(choiceCount: options.leastRequestChoiceCount, seed: seed, slowStart: slowStart)
        case .roundRobin:
            return RoundRobinBalancer(seed: seed, slowStart: slowStart)
        case .pickFirst:
            return PickFirstBalancer()
        case .peakEWMA:
            return PeakEWMABalancer(decayNs: options.peakEWMADecayMs * 1_000_000, seed: seed, slowStart: slowStart)
        case .weightedRoundRobin:
            return WeightedRoundRobinBalancer()
        }
    }
}

extension Array where Element: Numeric {
    /// Make `index` valid, filling new elements with zero.
    @inline(__always)
    mutating func grow(toInclude index: Int) {
        if index >= count { append(contentsOf: repeatElement(0, count: index + 1 - count)) }
    }
}
