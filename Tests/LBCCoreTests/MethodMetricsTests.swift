import XCTest
@testable import LBCCore

final class MethodMetricsTests: XCTestCase {
    func testAttemptsAndCallsAreCountedByMethodAndStatus() {
        var m = MethodMetrics()
        let get = m.key(for: "/pkg.Svc/Get")
        let put = m.key(for: "/pkg.Svc/Put")
        XCTAssertNotEqual(get, put)
        // Get: one call, two attempts (UNAVAILABLE, then OK).
        m.attemptStarted(get)
        m.attemptEnded(get, status: .unavailable, ns: 50_000)
        m.attemptStarted(get)
        m.attemptEnded(get, status: .ok, ns: 150_000)
        m.callEnded(get, status: .ok, ns: 400_000)
        // Put: two calls failing with NOT_FOUND.
        for _ in 0..<2 {
            m.attemptStarted(put)
            m.attemptEnded(put, status: .notFound, ns: 3_000_000)
            m.callEnded(put, status: .notFound, ns: 3_100_000)
        }
        let entries = m.entries
        XCTAssertEqual(entries.map(\.name), ["/pkg.Svc/Get", "/pkg.Svc/Put"])
        XCTAssertEqual(entries[0].attemptsStarted, 2)
        XCTAssertEqual(entries[0].attempts.map(\.status), [.ok, .unavailable], "status-code order")
        XCTAssertEqual(entries[0].attempts.map(\.histogram.count), [1, 1])
        XCTAssertEqual(entries[0].calls.map(\.status), [.ok])
        XCTAssertEqual(entries[0].calls[0].histogram.sumNs, 400_000)
        XCTAssertEqual(entries[0].calls[0].histogram.buckets[LatencyHistogram.bucket(forNs: 400_000)], 1)
        XCTAssertEqual(entries[1].attemptsStarted, 2)
        XCTAssertEqual(entries[1].calls.map(\.status), [.notFound])
        XCTAssertEqual(entries[1].calls[0].histogram.count, 2)
        XCTAssertEqual(entries[1].calls[0].histogram.sumNs, 6_200_000)
        XCTAssertNil(m.histogram(put, calls: true, status: .ok))
    }

    func testTheSameMethodGetsTheSameKeyWhateverItsStorage() {
        var m = MethodMetrics()
        let long = "/some.quite.long.package.Service/AMethodName"
        let k = m.key(for: long)
        XCTAssertEqual(m.key(for: String(decoding: Array(long.utf8), as: UTF8.self)), k, "a different buffer, same bytes")
        let other = m.key(for: "/a/B")                  // a small (inline) string
        XCTAssertEqual(m.key(for: long), k, "after another method: the table, not the one-entry cache")
        XCTAssertEqual(m.key(for: "/a/B"), other)
        XCTAssertNotEqual(m.key(for: "/some.quite.long.package.Service/AMethodNamf"), k, "same length, one byte differs")
        XCTAssertEqual(m.names.count, 3)
    }

    func testAlternatingMethodsThatShareACacheSlotKeepTheirKeys() {
        var m = MethodMetrics()
        // Same length and last byte: the same slot of the small cache.
        let a = m.key(for: "/pkg.A/Getb")
        let b = m.key(for: "/pkg.B/Putb")
        let c = m.key(for: "/pkg.C/Other")
        for _ in 0..<3 {
            XCTAssertEqual(m.key(for: "/pkg.A/Getb"), a)
            XCTAssertEqual(m.key(for: "/pkg.B/Putb"), b)
            XCTAssertEqual(m.key(for: "/pkg.C/Other"), c)
            XCTAssertEqual(m.key(for: "/pkg.B/Putb"), b)
        }
        XCTAssertEqual(Set([a, b, c]).count, 3)
        XCTAssertEqual(m.names, ["/pkg.A/Getb", "/pkg.B/Putb", "/pkg.C/Other"])
    }

    func testMethodsBeyondTheBoundAreCountedAsOther() {
        var m = MethodMetrics(maxMethods: 3)
        for i in 0..<3 { _ = m.key(for: "/svc/M\(i)") }
        let first = m.key(for: "/svc/Extra0")
        let second = m.key(for: "/svc/Extra1")
        XCTAssertEqual(first, second, "every further method shares one entry")
        XCTAssertEqual(m.names, ["/svc/M0", "/svc/M1", "/svc/M2", MethodMetrics.otherMethod])
        XCTAssertEqual(m.key(for: "/svc/M1"), 1, "known methods keep their own entry")
        // Many more distinct names: memory does not grow.
        for i in 0..<5000 {
            let k = m.key(for: "/svc/Unbounded\(i)")
            m.attemptStarted(k)
            m.callEnded(k, status: .ok, ns: 1000)
        }
        XCTAssertEqual(m.names.count, 4)
        XCTAssertEqual(m.key(for: "/svc/M2"), 2, "cached overflow names do not hide known ones")
        XCTAssertEqual(m.key(for: "/svc/Unbounded7"), m.key(for: "/svc/Unbounded8"))
        let other = m.entries[3]
        XCTAssertEqual(other.name, "other")
        XCTAssertEqual(other.attemptsStarted, 5000)
        XCTAssertEqual(other.calls.first?.histogram.count, 5000)
    }

    func testNoMethodsKeptWithABoundOfZero() {
        var m = MethodMetrics(maxMethods: 0)
        let k = m.key(for: "/a/B")
        m.callEnded(k, status: .cancelled, ns: 10)
        XCTAssertEqual(m.entries.map(\.name), ["other"])
        XCTAssertEqual(m.entries[0].calls.map(\.status), [.cancelled])
    }

    func testACopyIsASnapshot() {
        var m = MethodMetrics()
        let k = m.key(for: "/a/B")
        m.callEnded(k, status: .ok, ns: 1000)
        let snapshot = m
        m.callEnded(k, status: .ok, ns: 1000)
        m.callEnded(m.key(for: "/a/C"), status: .ok, ns: 1000)
        XCTAssertEqual(snapshot.entries.count, 1)
        XCTAssertEqual(snapshot.entries[0].calls[0].histogram.count, 1, "later records do not reach the copy")
        XCTAssertEqual(m.entries[0].calls[0].histogram.count, 2)
    }

    func testEveryStatusHasItsOwnHistogram() {
        var m = MethodMetrics()
        let k = m.key(for: "/a/B")
        for status in StatusCode.allCases {
            m.attemptEnded(k, status: status, ns: Int64(status.rawValue) * 1_000_000)
            m.callEnded(k, status: status, ns: 5)
        }
        let entry = m.entries[0]
        XCTAssertEqual(entry.attempts.map(\.status), StatusCode.allCases)
        XCTAssertEqual(entry.calls.map(\.status), StatusCode.allCases)
        for h in entry.attempts {
            XCTAssertEqual(h.histogram.count, 1)
            XCTAssertEqual(h.histogram.sumNs, Int64(h.status.rawValue) * 1_000_000)
        }
    }
}
