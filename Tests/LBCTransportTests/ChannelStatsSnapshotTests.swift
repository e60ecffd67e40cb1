import Foundation
import XCTest
import LBCCore
@testable import LBCTransport

/// The stats snapshot (lbc_channel_stats_json) of a large channel: only the copy of the
/// figures runs on the loop thread, the JSON text is made on the caller's.
final class ChannelStatsSnapshotTests: XCTestCase {
    /// 1,000 endpoints nobody listens on (port 1 of 127.0.0.2 ... ): every one has a
    /// state, counters and a last error.
    private func largeChannel() throws -> Channel {
        var options = ChannelOptions()
        options.keepaliveTimeMs = 20_000
        let addresses = (0..<1000).map { EndpointAddress.ipv4(host: "127.0.\($0 / 200).\(2 + $0 % 200)", port: 1) }
        return try Channel(source: .fixed(addresses), targetText: "ipv4:many", options: options)
    }

    /// The loop-thread part (the copy) is much cheaper than rendering the JSON there,
    /// as the channel did before; both timed on the loop thread, best of 5.
    func testSnapshotCopyIsCheapOnTheLoopThread() throws {
        let channel = try largeChannel()
        defer { channel.close() }
        var copyNs = Int64.max, renderNs = Int64.max
        var json = ""
        for _ in 0..<5 {
            let copy = channel.onLoop { () -> Int64 in
                let t0 = EventLoop.now()
                _ = channel.statsSnapshot()
                return EventLoop.now() - t0
            }
            let render = channel.onLoop { () -> (Int64, String) in
                let t0 = EventLoop.now()
                let text = channel.statsSnapshot().json
                return (EventLoop.now() - t0, text)
            }
            copyNs = min(copyNs, try XCTUnwrap(copy))
            renderNs = min(renderNs, try XCTUnwrap(render).0)
            json = try XCTUnwrap(render).1
        }
        print("stats snapshot, 1,000 endpoints: copy \(copyNs / 1000) us on the loop thread; rendering \(renderNs / 1000) us")
        XCTAssertEqual(json.components(separatedBy: "{\"address\":").count - 1, 1000)
        XCTAssertEqual(json.components(separatedBy: ",\"keepalive\":{\"time_ms\":").count - 1, 1001)
        XCTAssertLessThan(copyNs * 5, renderNs, "copying the figures should cost a fraction of rendering them")
    }

    /// statsJSON() (copy on the loop, text here) is valid JSON with every endpoint.
    func testStatsJSONIsValidWithEveryEndpoint() throws {
        let channel = try largeChannel()
        defer { channel.close() }
        let text = try XCTUnwrap(channel.statsJSON())
        XCTAssertTrue(text.hasPrefix("{\"target\":\"ipv4:many\",\"policy\":\"least_request\",\"endpoints\":[{\"address\":\"127.0.0.2:1\""))
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        let endpoints = try XCTUnwrap(object["endpoints"] as? [[String: Any]])
        XCTAssertEqual(endpoints.count, 1000)
        XCTAssertEqual(endpoints.last?["address"] as? String, "127.0.4.201:1")
        XCTAssertNotNil(endpoints.last?["keepalive"] as? [String: Any])
        XCTAssertNotNil(object["discovery"] as? [String: Any])
    }

    /// A call that waits for an endpoint until its deadline is one attempt and one call
    /// ending DEADLINE_EXCEEDED in the "metrics" object; internal counting needs no socket.
    func testMetricsCountACallThatWaitedForAnEndpoint() throws {
        let channel = try Channel(source: .manual, targetText: "manual:", options: ChannelOptions())
        defer { channel.close() }
        let call = try channel.unaryCall(method: "/pkg.Svc/Get", request: UnsafeRawBufferPointer(start: nil, count: 0),
                                         metadata: Metadata(), timeoutMs: 50)
        channel.start(call)
        call.waitForCompletion()
        XCTAssertEqual(call.status, .deadlineExceeded)
        let text = try XCTUnwrap(channel.statsJSON())
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        let metrics = try XCTUnwrap(object["metrics"] as? [String: Any])
        let bounds = try XCTUnwrap(metrics["latency_bounds_us"] as? [Int])
        XCTAssertEqual(bounds, (0...30).map { 1 << $0 })
        XCTAssertEqual(metrics["max_methods"] as? Int, MethodMetrics.defaultMaxMethods)
        let methods = try XCTUnwrap(metrics["methods"] as? [[String: Any]])
        XCTAssertEqual(methods.count, 1)
        XCTAssertEqual(methods[0]["method"] as? String, "/pkg.Svc/Get")
        XCTAssertEqual(methods[0]["attempts_started"] as? Int, 1)
        for kind in ["attempts", "calls"] {
            let byStatus = try XCTUnwrap(methods[0][kind] as? [String: Any])
            XCTAssertEqual(Array(byStatus.keys), ["DEADLINE_EXCEEDED"], kind)
            let h = try XCTUnwrap(byStatus["DEADLINE_EXCEEDED"] as? [String: Any])
            XCTAssertEqual(h["count"] as? Int, 1, kind)
            let sumUs = try XCTUnwrap(h["sum_us"] as? Int)
            XCTAssertGreaterThanOrEqual(sumUs, 45_000, "about the 50 ms deadline (\(kind))")
            let buckets = try XCTUnwrap(h["buckets"] as? [Int])
            XCTAssertEqual(buckets.count, bounds.count + 1)
            XCTAssertEqual(buckets.reduce(0, +), 1)
            let k = try XCTUnwrap(buckets.firstIndex(of: 1))
            XCTAssertLessThanOrEqual(sumUs, bounds[k], "the duration lies in its bucket")
            XCTAssertGreaterThan(sumUs, bounds[k - 1])
        }
    }

    /// Methods beyond the bound show up as one "other" entry; the JSON stays valid.
    func testMetricsJSONWithOtherAndEveryStatus() throws {
        let channel = try Channel(source: .manual, targetText: "manual:", options: ChannelOptions())
        defer { channel.close() }
        _ = channel.onLoop {
            channel.methodMetrics = MethodMetrics(maxMethods: 2)
            for name in ["/a/\"quoted\"", "/a/B", "/a/C", "/a/D"] {
                let k = channel.methodMetrics.key(for: name)
                for status in StatusCode.allCases { channel.methodMetrics.callEnded(k, status: status, ns: 1_500) }
            }
        }
        let text = try XCTUnwrap(channel.statsJSON())
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        let methods = try XCTUnwrap((object["metrics"] as? [String: Any])?["methods"] as? [[String: Any]])
        XCTAssertEqual(methods.compactMap { $0["method"] as? String }, ["/a/\"quoted\"", "/a/B", "other"])
        let other = try XCTUnwrap(methods[2]["calls"] as? [String: [String: Any]])
        XCTAssertEqual(Set(other.keys), Set(StatusCode.allCases.map(\.name)))
        XCTAssertEqual(other["UNAUTHENTICATED"]?["count"] as? Int, 2)
        XCTAssertEqual((other["OK"]?["buckets"] as? [Int])?[1], 2, "1.5 µs: the 2 µs bucket")
        XCTAssertEqual((methods[2]["attempts"] as? [String: Any])?.count, 0)
    }
}
