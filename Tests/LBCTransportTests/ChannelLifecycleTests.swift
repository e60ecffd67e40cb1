import XCTest
import LBCCore
@testable import LBCTransport

/// A closed channel must be freed: no reference cycle through timers, resolvers,
/// lookup jobs or connections may keep it (and its threads' resources) alive.
final class ChannelLifecycleTests: XCTestCase {
    private func options() -> ChannelOptions {
        var o = ChannelOptions()
        o.discoveryIntervalMs = 100
        return o
    }

    private func assertReleasedAfterClose(_ make: () throws -> Channel, file: StaticString = #filePath, line: UInt = #line) throws {
        weak var weakChannel: Channel?
        do {
            let channel = try make()
            weakChannel = channel
            // One RPC through the whole path (it fails: nothing listens there).
            let call = UnaryCall(method: "/x.Y/Z", request: UnsafeRawBufferPointer(start: nil, count: 0),
                                 metadata: Metadata(), timeoutMs: 300, maxReceiveMessageSize: 1024)
            channel.start(call)
            call.waitForCompletion()
            XCTAssertNotEqual(call.status, .ok, file: file, line: line)
            XCTAssertNotNil(channel.statsJSON(), file: file, line: line)
            channel.close()
            XCTAssertNil(channel.statsJSON(), "a closed channel still answers", file: file, line: line)
        }
        XCTAssertNil(weakChannel, "the channel outlived close()", file: file, line: line)
    }

    func testFixedChannelIsReleasedAfterClose() throws {
        try assertReleasedAfterClose {
            try Channel(source: .fixed([.ipv4(host: "127.0.0.1", port: 1)]), targetText: "ipv4:127.0.0.1:1",
                        options: options())
        }
    }

    func testDNSChannelIsReleasedAfterClose() throws {
        // A DNS server that does not answer: queries are outstanding at close.
        try assertReleasedAfterClose {
            try Channel(source: .dns(server: "127.0.0.1:1", host: "svc.test", port: 50051),
                        targetText: "dns://127.0.0.1:1/svc.test:50051", options: options())
        }
    }

    func testLookupChannelIsReleasedAfterCloseWithALookupRunning() throws {
        try assertReleasedAfterClose {
            try Channel(source: .lookup({ _ in
                usleep(50_000)  // still running, or queued again, at close
                return .success(["127.0.0.1:1"])
            }), targetText: "slow-lookup", options: options())
        }
    }

    func testClosingTwiceIsHarmless() throws {
        let channel = try Channel(source: .manual, targetText: "manual:", options: options())
        channel.close()
        channel.close()
        XCTAssertFalse(channel.setEndpoints([.ipv4(host: "127.0.0.1", port: 1)]))
    }
}
