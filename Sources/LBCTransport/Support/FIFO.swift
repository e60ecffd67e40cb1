/// A first-in first-out queue on one array: taking from the front moves a head
/// index instead of shifting elements. A taken element is released at once, and
/// the taken prefix of the storage is dropped once it is at least half of it (so
/// memory follows what is queued).
///
/// ```swift
/// var q = FIFO<Int>()
/// q.append(1); q.append(2)
/// q.popFirst()                 // 1
/// var batch: [Int] = []
/// q.moveFirst(8, into: &batch) // batch == [2]
/// ```
///
/// It lives in the module that uses it so that the optimizer specializes it: used
/// from another module, every call looked up generic type metadata (+6.5k
/// instructions per async unary call, measured with callgrind).
package struct FIFO<Element> {
    private var storage: [Element?] = []
    private var head = 0

    package init() {}

    package var count: Int { storage.count - head }
    package var isEmpty: Bool { head == storage.count }

    package mutating func append(_ element: Element) {
        storage.append(element)
    }

    /// Remove and return the oldest element.
    /// The oldest element, left in place.
    package var first: Element? { head < storage.count ? storage[head] : nil }

    package mutating func popFirst() -> Element? {
        guard head < storage.count else { return nil }
        let element = storage[head]
        storage[head] = nil
        head += 1
        compact()
        return element
    }

    /// Move up to `limit` of the oldest elements to the end of `out`; returns how many.
    @discardableResult
    package mutating func moveFirst(_ limit: Int, into out: inout [Element]) -> Int {
        let n = Swift.min(limit, count)
        guard n > 0 else { return 0 }
        out.reserveCapacity(out.count + n)
        for i in head..<head + n {
            out.append(storage[i]!)
            storage[i] = nil
        }
        head += n
        compact()
        return n
    }

    /// Drop everything (and the storage when it has grown large).
    package mutating func removeAll() {
        storage.removeAll(keepingCapacity: storage.capacity <= 4096)
        head = 0
    }

    private mutating func compact() {
        if head == storage.count {
            removeAll()
        } else if head >= 64 && head * 2 >= storage.count {
            storage.removeSubrange(0..<head)
            head = 0
        }
    }
}
