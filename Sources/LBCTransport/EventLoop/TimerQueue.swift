/// Timers of an event loop: a binary min-heap of deadlines with lazy cancellation.
package struct TimerQueue {
    /// Identifies a scheduled timer for cancellation.
    package typealias ID = UInt64

    private struct Entry {
        var deadlineNs: Int64
        var id: ID
    }

    private var heap: [Entry] = []
    private var actions: [ID: () -> Void] = [:]
    private var nextID: ID = 1

    package init() {}

    /// Schedule `action` at `deadlineNs` (monotonic nanoseconds).
    package mutating func schedule(at deadlineNs: Int64, _ action: @escaping () -> Void) -> ID {
        let id = nextID
        nextID += 1
        actions[id] = action
        heap.append(Entry(deadlineNs: deadlineNs, id: id))
        siftUp(heap.count - 1)
        return id
    }

    /// Cancel a timer; unknown or already fired ids are ignored.
    package mutating func cancel(_ id: ID) {
        actions[id] = nil
    }

    /// The earliest live deadline, if any.
    package mutating func nextDeadline() -> Int64? {
        while let top = heap.first {
            if actions[top.id] != nil { return top.deadlineNs }
            popTop()
        }
        return nil
    }

    /// Remove and return the actions due at `nowNs`, earliest first.
    package mutating func popDue(nowNs: Int64) -> [() -> Void] {
        var due: [() -> Void] = []
        while let top = heap.first, top.deadlineNs <= nowNs {
            popTop()
            if let action = actions.removeValue(forKey: top.id) { due.append(action) }
        }
        return due
    }

    private mutating func popTop() {
        let last = heap.removeLast()
        if !heap.isEmpty {
            heap[0] = last
            siftDown(0)
        }
    }

    private mutating func siftUp(_ index: Int) {
        var i = index
        while i > 0 {
            let parent = (i - 1) / 2
            if heap[parent].deadlineNs <= heap[i].deadlineNs { break }
            heap.swapAt(parent, i)
            i = parent
        }
    }

    private mutating func siftDown(_ index: Int) {
        var i = index
        while true {
            let l = 2 * i + 1, r = l + 1
            var smallest = i
            if l < heap.count && heap[l].deadlineNs < heap[smallest].deadlineNs { smallest = l }
            if r < heap.count && heap[r].deadlineNs < heap[smallest].deadlineNs { smallest = r }
            if smallest == i { return }
            heap.swapAt(i, smallest)
            i = smallest
        }
    }
}
