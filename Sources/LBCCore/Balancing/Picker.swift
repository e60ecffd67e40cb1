/// Chooses an endpoint for each RPC among the READY ones, by policy.
///
/// I/O-free: the caller describes its endpoints through two closures, so the picker
/// allocates nothing per pick.
///
/// ```swift
/// var picker = Picker(policy: .roundRobin)
/// let index = picker.pick(count: endpoints.count,
///                         isReady: { endpoints[$0].isReady },
///                         load: { endpoints[$0].inFlight })
/// ```
package struct Picker: Sendable {
    package let policy: LBPolicy
    private var next = 0
    private var rng: SplitMix64

    package init(policy: LBPolicy, seed: UInt64 = UInt64.random(in: .min ... .max)) {
        self.policy = policy
        self.rng = SplitMix64(seed: seed)
    }

    /// Index of the chosen endpoint, or nil when none of the `count` endpoints is ready.
    package mutating func pick(count: Int, isReady: (Int) -> Bool, load: (Int) -> Int) -> Int? {
        guard count > 0 else { return nil }
        switch policy {
        case .pickFirst:
            for i in 0..<count where isReady(i) { return i }
            return nil
        case .roundRobin:
            for step in 0..<count {
                let i = (next + step) % count
                if isReady(i) {
                    next = (i + 1) % count
                    return i
                }
            }
            return nil
        case .leastRequest:
            var ready = 0
            for i in 0..<count where isReady(i) { ready += 1 }
            if ready == 0 { return nil }
            if ready == 1 { return nthReady(0, count: count, isReady: isReady) }
            let a = Int(rng.next() % UInt64(ready))
            let b = (a + 1 + Int(rng.next() % UInt64(ready - 1))) % ready
            let ia = nthReady(a, count: count, isReady: isReady)!
            let ib = nthReady(b, count: count, isReady: isReady)!
            return load(ib) < load(ia) ? ib : ia
        }
    }

    private func nthReady(_ n: Int, count: Int, isReady: (Int) -> Bool) -> Int? {
        var seen = 0
        for i in 0..<count where isReady(i) {
            if seen == n { return i }
            seen += 1
        }
        return nil
    }
}

/// A small, fast, seedable pseudo-random generator (SplitMix64) for picking.
package struct SplitMix64: RandomNumberGenerator, Sendable {
    private var state: UInt64
    package init(seed: UInt64) { state = seed }
    package mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
