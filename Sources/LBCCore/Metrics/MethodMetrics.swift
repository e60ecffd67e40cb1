import Glibc

/// Per-method call metrics of a channel (I/O-free): attempts started, and latency
/// histograms (``LatencyHistogram``) of attempts and of calls by final status — what
/// gRFC A66's `grpc.client.attempt.started`, `grpc.client.attempt.duration` and
/// `grpc.client.call.duration` are made of (with the channel's target as
/// `grpc.target`).
///
/// An *attempt* starts when the call enters the channel (before the pick) and again
/// for each retry, transparent retry and hedged copy; it ends with the status of that
/// attempt (a transparent retry's refused attempt ends UNAVAILABLE). A *call* is what
/// the application sees: from entering the channel to its final status, retries
/// included.
///
/// Bounded memory: at most `maxMethods` distinct methods are kept (1,000 by default);
/// the calls of any further method are counted under the method name
/// ``otherMethod`` ("other", as A66 names unregistered methods). Each method costs
/// about 200 bytes plus about 300 bytes per (attempt or call, status) pair seen, so
/// at most about 10 MB for 1,000 methods that each end with all 17 statuses; a few
/// hundred KB for typical traffic.
///
/// Hot path: ``key(for:)`` once per call (a length check and memcmp against the
/// previous call's method; else against the method last seen with the same length
/// and last byte, in a 16-entry cache; else a hash lookup), then array increments;
/// nothing is allocated except the first time a method, or a (method, status) pair,
/// is seen.
///
/// ```swift
/// var m = MethodMetrics()
/// let k = m.key(for: "/pkg.Svc/Get")
/// m.attemptStarted(k)
/// m.attemptEnded(k, status: .ok, ns: 180_000)
/// m.callEnded(k, status: .ok, ns: 200_000)
/// m.entries[0].calls[0].histogram.count   // 1
/// ```
package struct MethodMetrics: Sendable {
    /// The default bound on distinct methods.
    package static let defaultMaxMethods = 1000
    /// The name under which methods beyond the bound are counted.
    package static let otherMethod = "other"

    /// Distinct methods kept before the rest go to ``otherMethod``.
    package let maxMethods: Int
    /// The methods in the order they were first seen (``otherMethod`` last, when used).
    package private(set) var names: [String] = []
    /// Attempts started, by method key.
    package private(set) var attemptsStarted: [UInt64] = []

    private var keys: [String: Int32] = [:]
    /// The last method looked up and its key (most callers repeat a method).
    private var lastName = ""
    private var lastKey: Int32 = -1
    /// Recently used methods and their keys, direct-mapped by length and last byte:
    /// callers that alternate between a few methods skip the hash lookup.
    private var cacheNames = [String](repeating: "", count: MethodMetrics.cacheSize)
    private var cacheKeys = [Int32](repeating: -1, count: MethodMetrics.cacheSize)
    private static let cacheSize = 16
    private var otherKey: Int32 = -1
    /// Per method, for each (kind, status), the offset in `cells` of its histogram;
    /// -1: none yet.
    private var slots: [Int32] = []
    /// The histograms, flat: per histogram its `bucketCount` bucket counts, then its
    /// count, then its sum of ns — one array, so a record is one uniqueness check
    /// and three increments.
    private var cells: [UInt64] = []

    private static let statusCount = 17
    private static let slotsPerMethod = 2 * statusCount
    private static let attemptKind = 0
    private static let callKind = 1
    private static let countCell = LatencyHistogram.bucketCount
    private static let sumCell = LatencyHistogram.bucketCount + 1
    private static let cellsPerHistogram = LatencyHistogram.bucketCount + 2

    package init(maxMethods: Int = MethodMetrics.defaultMaxMethods) {
        precondition(maxMethods >= 0, "maxMethods must not be negative")
        self.maxMethods = maxMethods
    }

    /// The key of `method` for the counting functions, interning it on first use
    /// (the ``otherMethod`` key once `maxMethods` methods are known).
    @inline(__always)
    package mutating func key(for method: String) -> Int32 {
        if lastKey >= 0 && Self.sameBytes(method, lastName) { return lastKey }
        return lookUp(method)
    }

    /// Byte equality by length and memcmp (method names are ASCII paths; no Unicode
    /// comparison needed), falling back to `==` for strings without contiguous UTF-8.
    @inline(__always)
    private static func sameBytes(_ a: String, _ b: String) -> Bool {
        let n = a.utf8.count
        guard n == b.utf8.count else { return false }
        let equal = a.utf8.withContiguousStorageIfAvailable { x in
            b.utf8.withContiguousStorageIfAvailable { y in
                n == 0 || memcmp(x.baseAddress!, y.baseAddress!, n) == 0
            }
        }
        return (equal ?? nil) ?? (a == b)
    }

    private mutating func lookUp(_ method: String) -> Int32 {
        let utf8 = method.utf8
        let last = utf8.withContiguousStorageIfAvailable { $0.last } ?? utf8.last
        let cacheSlot = (utf8.count &* 7 &+ Int(last ?? 0)) & (Self.cacheSize &- 1)
        let key: Int32
        let cached = cacheKeys[cacheSlot]
        if cached >= 0 && Self.sameBytes(method, cacheNames[cacheSlot]) {
            key = cached
        } else if let known = keys[method] {
            key = known
        } else if names.count < maxMethods {
            key = add(method)
            keys[method] = key
        } else {
            // Not remembered in `keys`: unbounded method names must not grow memory.
            if otherKey < 0 { otherKey = add(Self.otherMethod) }
            key = otherKey
        }
        if cached != key {
            cacheNames[cacheSlot] = method
            cacheKeys[cacheSlot] = key
        }
        lastName = method
        lastKey = key
        return key
    }

    private mutating func add(_ name: String) -> Int32 {
        let key = Int32(names.count)
        names.append(name)
        attemptsStarted.append(0)
        slots.append(contentsOf: repeatElement(-1, count: Self.slotsPerMethod))
        return key
    }

    /// An attempt of a call of method `key` started.
    @inline(__always)
    package mutating func attemptStarted(_ key: Int32) {
        attemptsStarted[Int(key)] &+= 1
    }

    /// An attempt of method `key` ended with `status` after `ns` nanoseconds.
    @inline(__always)
    package mutating func attemptEnded(_ key: Int32, status: StatusCode, ns: Int64) {
        record(key, kind: Self.attemptKind, status: status, ns: ns)
    }

    /// A call of method `key` ended with `status` after `ns` nanoseconds.
    @inline(__always)
    package mutating func callEnded(_ key: Int32, status: StatusCode, ns: Int64) {
        record(key, kind: Self.callKind, status: status, ns: ns)
    }

    @inline(__always)
    private mutating func record(_ key: Int32, kind: Int, status: StatusCode, ns: Int64) {
        let slot = Int(key) &* Self.slotsPerMethod &+ kind &* Self.statusCount &+ Int(status.rawValue)
        var base = Int(slots[slot])
        if base < 0 { base = newHistogram(slot) }
        let bucket = LatencyHistogram.bucket(forNs: ns)
        cells.withUnsafeMutableBufferPointer { c in
            c[base &+ bucket] &+= 1
            c[base &+ Self.countCell] &+= 1
            c[base &+ Self.sumCell] &+= UInt64(max(ns, 0))
        }
    }

    private mutating func newHistogram(_ slot: Int) -> Int {
        let base = cells.count
        cells.append(contentsOf: repeatElement(0, count: Self.cellsPerHistogram))
        slots[slot] = Int32(base)
        return base
    }

    /// The histogram of method `key`'s attempts (`calls` false) or calls with `status`;
    /// nil when none ended so.
    package func histogram(_ key: Int32, calls: Bool, status: StatusCode) -> LatencyHistogram? {
        let slot = Int(key) * Self.slotsPerMethod + (calls ? Self.callKind : Self.attemptKind) * Self.statusCount
            + Int(status.rawValue)
        let base = Int(slots[slot])
        guard base >= 0 else { return nil }
        return LatencyHistogram(buckets: Array(cells[base..<(base + LatencyHistogram.bucketCount)]),
                                count: cells[base + Self.countCell], sumNs: Int64(truncatingIfNeeded: cells[base + Self.sumCell]))
    }

    // MARK: reading

    /// One status's histogram of a method.
    package struct StatusHistogram: Sendable, Equatable {
        package var status: StatusCode
        package var histogram: LatencyHistogram
    }

    /// One method's figures.
    package struct Entry: Sendable, Equatable {
        /// The method path as called ("/pkg.Service/Method"), or ``MethodMetrics/otherMethod``.
        package var name: String
        package var attemptsStarted: UInt64
        /// Attempt durations by the attempt's status, in status-code order (only
        /// statuses seen).
        package var attempts: [StatusHistogram]
        /// Call durations by the call's final status, in status-code order.
        package var calls: [StatusHistogram]
    }

    /// Every method's figures, in the order the methods were first seen.
    package var entries: [Entry] {
        names.indices.map { m in
            Entry(name: names[m], attemptsStarted: attemptsStarted[m],
                  attempts: histograms(method: m, kind: Self.attemptKind),
                  calls: histograms(method: m, kind: Self.callKind))
        }
    }

    private func histograms(method m: Int, kind: Int) -> [StatusHistogram] {
        var out: [StatusHistogram] = []
        for status in StatusCode.allCases {
            if let h = histogram(Int32(m), calls: kind == Self.callKind, status: status) {
                out.append(StatusHistogram(status: status, histogram: h))
            }
        }
        return out
    }
}
