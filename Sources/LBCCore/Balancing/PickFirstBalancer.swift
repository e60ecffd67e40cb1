/// `pick_first`: the first pickable endpoint in the order endpoints joined the set
/// (target order for a fixed list, answer order for discovery).
///
/// The first is kept up to date on changes (a scan then, never per pick).
///
/// ```swift
/// let pf = PickFirstBalancer()
/// pf.endpointsChanged(added: [0, 1], removed: [], nowNs: 0)
/// pf.connectivityChanged(1, pickable: true)
/// pf.pick(nowNs: 0)  // 1 until slot 0 becomes pickable
/// ```
package final class PickFirstBalancer: LoadBalancer {
    private var ready = PickableSet()
    /// Join order of each slot (smaller joined earlier).
    private var order: [Int] = []
    private var joined = 0
    private var first: Int?

    package init() {}

    package var policy: LBPolicy { .pickFirst }

    package func endpointsChanged(added: [Int], removed: [Int], nowNs: Int64) {
        for slot in removed { setPickable(slot, false) }
        for slot in added {
            order.grow(toInclude: slot)
            order[slot] = joined
            joined += 1
        }
    }

    package func connectivityChanged(_ slot: Int, pickable: Bool) { setPickable(slot, pickable) }

    private func setPickable(_ slot: Int, _ pickable: Bool) {
        ready.set(slot, pickable)
        if pickable {
            if let f = first, order[f] < order[slot] { return }
            first = slot
        } else if first == slot {
            first = ready.members.min { order[$0] < order[$1] }
        }
    }

    package func callStarted(_ slot: Int) {}

    package func callFinished(_ slot: Int, status: StatusCode, latencyNs: Int64, nowNs: Int64) {}

    package func pick(nowNs: Int64) -> Int? { first }

    package func cost(_ slot: Int, nowNs: Int64) -> Double { 0 }
}
