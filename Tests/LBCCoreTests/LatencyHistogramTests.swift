import XCTest
@testable import LBCCore

final class LatencyHistogramTests: XCTestCase {
    func testBoundsArePowersOfTwoMicrosecondsUpToTwoToTheThirty() {
        let bounds = LatencyHistogram.boundsMicros
        XCTAssertEqual(bounds.count, LatencyHistogram.bucketCount - 1)
        XCTAssertEqual(bounds.first, 1)
        XCTAssertEqual(bounds.last, 1 << 30)
        for (k, bound) in bounds.enumerated() {
            XCTAssertEqual(bound, Int64(1) << Int64(k))
            XCTAssertEqual(LatencyHistogram.upperBoundMicros(k), bound)
        }
        XCTAssertNil(LatencyHistogram.upperBoundMicros(LatencyHistogram.bucketCount - 1), "the last bucket is +Inf")
    }

    func testEachBoundIsInclusiveAndTheNextNanosecondGoesUp() {
        // Upper bounds are inclusive (Prometheus `le`, OpenTelemetry explicit bounds).
        for k in 0..<(LatencyHistogram.bucketCount - 1) {
            let boundNs = (Int64(1) << Int64(k)) * 1000
            XCTAssertEqual(LatencyHistogram.bucket(forNs: boundNs), k, "exactly 2^\(k) µs")
            XCTAssertEqual(LatencyHistogram.bucket(forNs: boundNs + 1), k + 1, "just above 2^\(k) µs")
            if k > 0 {
                XCTAssertEqual(LatencyHistogram.bucket(forNs: boundNs / 2 + 1), k, "just above the previous bound")
            }
        }
    }

    func testSmallNegativeAndHugeDurations() {
        XCTAssertEqual(LatencyHistogram.bucket(forNs: 0), 0)
        XCTAssertEqual(LatencyHistogram.bucket(forNs: 1), 0)
        XCTAssertEqual(LatencyHistogram.bucket(forNs: -5_000_000), 0, "a clock step backwards is no crash")
        let overflow = LatencyHistogram.bucketCount - 1
        XCTAssertEqual(LatencyHistogram.bucket(forNs: (Int64(1) << 30) * 1000 + 1), overflow)
        XCTAssertEqual(LatencyHistogram.bucket(forNs: 3_600_000_000_000), overflow, "an hour")
        XCTAssertEqual(LatencyHistogram.bucket(forNs: Int64.max), overflow)
    }

    func testTypicalLatencies() {
        XCTAssertEqual(LatencyHistogram.bucket(forNs: 150_000), 8)        // 128 µs < 150 µs ≤ 256 µs
        XCTAssertEqual(LatencyHistogram.bucket(forNs: 1_000_000), 10)     // 1 ms ≤ 1024 µs
        XCTAssertEqual(LatencyHistogram.bucket(forNs: 1_024_000), 10)
        XCTAssertEqual(LatencyHistogram.bucket(forNs: 1_024_001), 11)
        XCTAssertEqual(LatencyHistogram.bucket(forNs: 1_000_000_000), 20)  // 1 s ≤ 2^20 µs
    }

    func testRecordCountsSumsAndMerges() {
        var h = LatencyHistogram()
        h.record(ns: 150_000)
        h.record(ns: 200_000)
        h.record(ns: 2_000_000)
        h.record(ns: -7)
        XCTAssertEqual(h.count, 4)
        XCTAssertEqual(h.sumNs, 2_350_000, "a negative duration adds 0")
        XCTAssertEqual(h.buckets[8], 2)
        XCTAssertEqual(h.buckets[11], 1)
        XCTAssertEqual(h.buckets[0], 1)
        XCTAssertEqual(h.buckets.reduce(0, +), h.count)
        var total = LatencyHistogram()
        total.merge(h)
        total.merge(h)
        XCTAssertEqual(total.count, 8)
        XCTAssertEqual(total.sumNs, 4_700_000)
        XCTAssertEqual(total.buckets[8], 4)
    }
}
