/// A latency histogram with fixed log-scale buckets: powers of 2 in microseconds
/// (I/O-free; the per-method metrics of a channel, ``MethodMetrics``, keep many).
///
/// Bucket `k` (0 ... 30) counts durations `d` with `2^(k-1) µs < d ≤ 2^k µs` (bucket 0:
/// `d ≤ 1 µs`); the last bucket, 31, counts everything above 2^30 µs (about 17.9
/// minutes). Upper bounds are inclusive, as Prometheus's `le` and OpenTelemetry's
/// explicit bucket boundaries are, so both histograms are built from these counts
/// unchanged: boundaries `upperBoundMicros(k) / 1e6` seconds and the counts as they
/// are (cumulated for Prometheus). Measured in µs these are also exactly the buckets
/// of an OpenTelemetry base-2 exponential histogram at scale 0 (bucket `k` there is
/// index `k - 1`).
///
/// Why powers of 2 rather than gRFC A66's suggested boundaries (0, 10 µs, 50 µs, …,
/// 100 s): the bucket of a duration is one leading-zero count, not a search, and the
/// resolution is the same factor 2 everywhere from 1 µs up — where A66's list jumps
/// from 100 µs to 300 µs, which is where loopback and in-cluster calls land.
///
/// ```swift
/// var h = LatencyHistogram()
/// h.record(ns: 150_000)           // 150 µs: bucket 8 (128 µs < d ≤ 256 µs)
/// h.count                         // 1
/// LatencyHistogram.upperBoundMicros(8)   // 256
/// ```
package struct LatencyHistogram: Sendable, Equatable {
    /// Number of buckets: 31 bounded ones (1 µs ... 2^30 µs) and the overflow bucket.
    package static let bucketCount = 32
    /// The largest finite upper bound, in µs (2^30).
    package static let maxBoundMicros: Int64 = 1 << 30

    /// The count of each bucket (`bucketCount` of them).
    package private(set) var buckets: [UInt64]
    /// Durations recorded (the sum of `buckets`).
    package private(set) var count: UInt64 = 0
    /// Sum of the recorded durations in ns (negative durations count as 0).
    package private(set) var sumNs: Int64 = 0

    package init() {
        buckets = [UInt64](repeating: 0, count: Self.bucketCount)
    }

    /// A histogram with these figures (`buckets` must have `bucketCount` entries).
    package init(buckets: [UInt64], count: UInt64, sumNs: Int64) {
        precondition(buckets.count == Self.bucketCount, "a histogram has \(Self.bucketCount) buckets")
        self.buckets = buckets
        self.count = count
        self.sumNs = sumNs
    }

    /// The bucket of a duration of `ns` nanoseconds: the duration rounded up to whole
    /// µs, then the bit length of (µs - 1). Durations ≤ 1 µs (and negative ones) go to
    /// bucket 0, those above 2^30 µs to the overflow bucket.
    @inline(__always)
    package static func bucket(forNs ns: Int64) -> Int {
        guard ns > 1000 else { return 0 }
        let micros = (UInt64(ns) &+ 999) / 1000        // rounded up; ≥ 2
        let k = UInt64.bitWidth &- (micros &- 1).leadingZeroBitCount
        return k < bucketCount ? k : bucketCount &- 1
    }

    /// The inclusive upper bound of bucket `k` in µs; nil for the overflow bucket (+Inf).
    package static func upperBoundMicros(_ k: Int) -> Int64? {
        precondition(k >= 0 && k < bucketCount, "bucket index out of range")
        return k == bucketCount - 1 ? nil : Int64(1) << Int64(k)
    }

    /// The finite upper bounds in µs, in order (`bucketCount - 1` of them).
    package static var boundsMicros: [Int64] {
        (0..<(bucketCount - 1)).map { Int64(1) << Int64($0) }
    }

    /// Count one duration. No allocation.
    @inline(__always)
    package mutating func record(ns: Int64) {
        buckets[Self.bucket(forNs: ns)] &+= 1
        count &+= 1
        sumNs &+= max(ns, 0)
    }

    /// Add `other`'s counts to this histogram.
    package mutating func merge(_ other: LatencyHistogram) {
        for k in 0..<Self.bucketCount { buckets[k] &+= other.buckets[k] }
        count &+= other.count
        sumNs &+= other.sumNs
    }
}
