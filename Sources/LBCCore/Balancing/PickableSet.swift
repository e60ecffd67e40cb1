/// The endpoint slots a balancer may pick right now, with O(1) insertion, removal,
/// membership and random access (an array of slots plus each slot's position in it).
///
/// ```swift
/// var set = PickableSet()
/// set.insert(3); set.insert(7)
/// set.remove(3)
/// set[0]        // 7
/// ```
package struct PickableSet: Sendable {
    /// The pickable slots, in no particular order.
    package private(set) var members: [Int] = []
    /// Position of each slot in `members`, -1 when absent (indexed by slot).
    private var position: [Int] = []

    package init() {}

    /// Number of pickable slots.
    @inline(__always)
    package var count: Int { members.count }

    /// The slot at `index` (0..<count).
    @inline(__always)
    package subscript(index: Int) -> Int { members[index] }

    /// Two distinct random positions (`count` >= 2): the draw of power-of-two-choices.
    @inline(__always)
    package func drawTwo(_ rng: inout SplitMix64) -> (Int, Int) {
        let i = rng.below(count)
        var j = rng.below(count - 1)
        if j >= i { j += 1 }
        return (i, j)
    }

    package func contains(_ slot: Int) -> Bool {
        slot >= 0 && slot < position.count && position[slot] >= 0
    }

    /// Add `slot` (no-op when present).
    package mutating func insert(_ slot: Int) {
        if slot >= position.count {
            position.append(contentsOf: repeatElement(-1, count: slot + 1 - position.count))
        }
        guard position[slot] < 0 else { return }
        position[slot] = members.count
        members.append(slot)
    }

    /// Remove `slot` (no-op when absent): the last member takes its place.
    package mutating func remove(_ slot: Int) {
        guard contains(slot) else { return }
        let at = position[slot]
        let last = members.removeLast()
        if last != slot {
            members[at] = last
            position[last] = at
        }
        position[slot] = -1
    }

    /// Insert or remove.
    package mutating func set(_ slot: Int, _ pickable: Bool) {
        if pickable { insert(slot) } else { remove(slot) }
    }
}
