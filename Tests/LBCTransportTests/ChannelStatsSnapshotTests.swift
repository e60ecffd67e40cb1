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
}
