/// Something an event loop can call back when a deadline passes.
package protocol TimerTarget: AnyObject {
    /// Called on the loop thread once the deadline has passed, unless cancelled.
    func timerFired()
    /// True when the timer no longer matters: it will not fire and may be dropped.
    var timerCancelled: Bool { get }
}

/// A timer running a closure; the handle returned by `EventLoop.schedule`.
package final class ClosureTimer: TimerTarget {
    private var action: (() -> Void)?

    init(_ action: @escaping () -> Void) { self.action = action }

    package func timerFired() {
        let run = action
        action = nil
        run?()
    }

    package var timerCancelled: Bool { action == nil }

    /// Drop the closure; the timer will not fire.
    func cancel() { action = nil }
}

/// Timers of an event loop: a binary min-heap of deadlines with lazy cancellation.
/// Cancelled entries are skipped when they reach the top and compacted away when
/// they make up more than half of the heap, so memory stays proportional to the
/// live timers even with long deadlines.
package struct TimerQueue {
    private struct Entry {
        var deadlineNs: Int64
        var sequence: UInt64
        var target: TimerTarget

        @inline(__always)
        func precedes(_ other: Entry) -> Bool {
            deadlineNs < other.deadlineNs || (deadlineNs == other.deadlineNs && sequence < other.sequence)
        }
    }

    private var heap: [Entry] = []
    private var sequence: UInt64 = 0
    private var cancelledHint = 0

    package init() {}

    /// Number of entries held (live and not yet compacted cancelled ones).
    package var storedCount: Int { heap.count }

    /// Schedule `target` at `deadlineNs` (monotonic nanoseconds).
    package mutating func schedule(at deadlineNs: Int64, _ target: TimerTarget) {
        sequence &+= 1
        heap.append(Entry(deadlineNs: deadlineNs, sequence: sequence, target: target))
        siftUp(heap.count - 1)
    }

    /// Note that one scheduled target was cancelled (its `timerCancelled` is now true).
    package mutating func noteCancelled() {
        cancelledHint += 1
        if cancelledHint > 64 && cancelledHint * 2 > heap.count { compact() }
    }

    /// The earliest live deadline, if any.
    package mutating func nextDeadline() -> Int64? {
        while let top = heap.first {
            if !top.target.timerCancelled { return top.deadlineNs }
            popTop()
        }
        return nil
    }

    /// Remove and return the live targets due at `nowNs`, earliest first.
    package mutating func popDue(nowNs: Int64) -> [TimerTarget] {
        guard let first = heap.first, first.deadlineNs <= nowNs else { return [] }
        var due: [TimerTarget] = []
        while let top = heap.first, top.deadlineNs <= nowNs {
            popTop()
            if !top.target.timerCancelled { due.append(top.target) }
        }
        return due
    }

    /// Drop every entry.
    package mutating func removeAll() {
        heap.removeAll()
        cancelledHint = 0
    }

    private mutating func compact() {
        heap.removeAll { $0.target.timerCancelled }
        cancelledHint = 0
        var i = heap.count / 2
        while i > 0 {
            i -= 1
            siftDown(i)
        }
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
            if !heap[i].precedes(heap[parent]) { break }
            heap.swapAt(parent, i)
            i = parent
        }
    }

    private mutating func siftDown(_ index: Int) {
        var i = index
        while true {
            let l = 2 * i + 1, r = l + 1
            var smallest = i
            if l < heap.count && heap[l].precedes(heap[smallest]) { smallest = l }
            if r < heap.count && heap[r].precedes(heap[smallest]) { smallest = r }
            if smallest == i { return }
            heap.swapAt(i, smallest)
            i = smallest
        }
    }
}
