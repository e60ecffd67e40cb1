/// `weighted_round_robin`: each pickable endpoint in turn, in proportion to its weight
/// (from `ADDRESS;weight=N` in pushed or looked-up addresses; 1 by default).
///
/// Earliest-deadline-first scheduling, as gRPC's weighted_round_robin: every pickable
/// endpoint has a virtual deadline; a pick takes the earliest and moves it on by
/// 1 / weight. A binary heap makes that O(log n); entries of endpoints that stopped
/// being pickable (or changed weight) go stale and are dropped when they surface.
///
/// ```swift
/// let wrr = WeightedRoundRobinBalancer()
/// wrr.endpointsChanged(added: [0, 1], removed: [], nowNs: 0)
/// wrr.weightChanged(1, weight: 3)
/// wrr.connectivityChanged(0, pickable: true); wrr.connectivityChanged(1, pickable: true)
/// // 4 picks: slot 1 three times, slot 0 once
/// ```
package final class WeightedRoundRobinBalancer: LoadBalancer {
    private struct Entry {
        var deadline: Double
        var sequence: UInt64
        var slot: Int
        var generation: UInt32

        @inline(__always)
        func precedes(_ other: Entry) -> Bool {
            deadline != other.deadline ? deadline < other.deadline : sequence < other.sequence
        }
    }

    private var heap: [Entry] = []
    private var weight: [Int] = []
    /// Bumped whenever a slot's entry becomes invalid (unpickable, reweighted, removed).
    private var generation: [UInt32] = []
    private var pickable: [Bool] = []
    private var pickableCount = 0
    /// The deadline of the last pick: where newly pickable endpoints start.
    private var now = 0.0
    private var sequence: UInt64 = 0

    package init() {}

    package var policy: LBPolicy { .weightedRoundRobin }

    package func endpointsChanged(added: [Int], removed: [Int], nowNs: Int64) {
        for slot in removed {
            setPickable(slot, false)
            weight[slot] = 1
        }
        for slot in added {
            weight.grow(toInclude: slot)
            generation.grow(toInclude: slot)
            if slot >= pickable.count { pickable.append(contentsOf: repeatElement(false, count: slot + 1 - pickable.count)) }
            weight[slot] = 1
        }
    }

    package func weightChanged(_ slot: Int, weight newWeight: Int) {
        guard slot < weight.count, weight[slot] != newWeight else { return }
        weight[slot] = max(1, newWeight)
        if pickable[slot] {
            generation[slot] &+= 1
            push(slot)
        }
    }

    package func connectivityChanged(_ slot: Int, pickable now: Bool) { setPickable(slot, now) }

    private func setPickable(_ slot: Int, _ now: Bool) {
        guard slot < pickable.count, pickable[slot] != now else { return }
        pickable[slot] = now
        generation[slot] &+= 1
        if now {
            pickableCount += 1
            push(slot)
        } else {
            pickableCount -= 1
            if heap.count > 2 * pickableCount + 16 { rebuild() }
        }
    }

    package func callStarted(_ slot: Int) {}

    package func callFinished(_ slot: Int, status: StatusCode, latencyNs: Int64, nowNs: Int64) {}

    package func pick(nowNs: Int64) -> Int? {
        while let top = heap.first {
            if top.generation != generation[top.slot] || !pickable[top.slot] {
                popTop()
                continue
            }
            now = top.deadline
            heap[0].deadline = top.deadline + 1 / Double(weight[top.slot])
            heap[0].sequence = nextSequence()
            siftDown(0)
            return top.slot
        }
        return nil
    }

    package func cost(_ slot: Int, nowNs: Int64) -> Double { 0 }

    // MARK: heap

    private func nextSequence() -> UInt64 {
        sequence &+= 1
        return sequence
    }

    private func push(_ slot: Int) {
        heap.append(Entry(deadline: now + 1 / Double(weight[slot]), sequence: nextSequence(), slot: slot,
                          generation: generation[slot]))
        siftUp(heap.count - 1)
    }

    private func popTop() {
        let last = heap.removeLast()
        if !heap.isEmpty {
            heap[0] = last
            siftDown(0)
        }
    }

    /// Drop stale entries (many endpoints stopped being pickable).
    private func rebuild() {
        heap.removeAll { $0.generation != generation[$0.slot] || !pickable[$0.slot] }
        for i in stride(from: heap.count / 2 - 1, through: 0, by: -1) { siftDown(i) }
    }

    private func siftUp(_ index: Int) {
        var i = index
        while i > 0 {
            let parent = (i - 1) / 2
            guard heap[i].precedes(heap[parent]) else { return }
            heap.swapAt(i, parent)
            i = parent
        }
    }

    private func siftDown(_ index: Int) {
        var i = index
        let n = heap.count
        while true {
            let l = 2 * i + 1, r = l + 1
            var m = i
            if l < n && heap[l].precedes(heap[m]) { m = l }
            if r < n && heap[r].precedes(heap[m]) { m = r }
            if m == i { return }
            heap.swapAt(i, m)
            i = m
        }
    }
}
