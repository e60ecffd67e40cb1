import XCTest
import LBCCore
@testable import LBCTransport

/// Ordering, filtering and the exactly-once last event of connectivity watches.
final class ConnectivityFeedTests: XCTestCase {
    private struct Seen: Equatable {
        let tag: UInt, flags: UInt32, state: ChannelConnectivity.State, old: ChannelConnectivity.State, address: String?
    }

    private func take(_ queue: CompletionQueue) -> [Seen] {
        var out: [Seen] = []
        _ = queue.take(max: 100, timeoutMs: 0) { item in
            let e = item as! ConnectivityEvent
            out.append(Seen(tag: e.tag, flags: e.flags, state: e.state, old: e.oldState, address: e.address))
        }
        return out
    }

    private let endpoint = ConnectivityEvent.Flags.endpoint
    private let last = ConnectivityEvent.Flags.last

    func testEndpointChangeIsPostedBeforeTheChannelChangeItCauses() throws {
        let queue = try CompletionQueue()
        let feed = ConnectivityFeed(emptyState: .connecting)
        let all = try XCTUnwrap(feed.watch(queue: queue, tag: 1, endpoints: true))
        _ = try XCTUnwrap(feed.watch(queue: queue, tag: 2, endpoints: false))
        feed.endpointAdded("a:1", .connecting)
        feed.endpointChanged("a:1", from: .connecting, to: .ready)
        XCTAssertEqual(feed.state, .ready)
        XCTAssertEqual(take(queue), [
            Seen(tag: 1, flags: endpoint | ConnectivityEvent.Flags.added, state: .connecting, old: .connecting, address: "a:1"),
            Seen(tag: 1, flags: endpoint, state: .ready, old: .connecting, address: "a:1"),
            Seen(tag: 1, flags: 0, state: .ready, old: .connecting, address: nil),
            Seen(tag: 2, flags: 0, state: .ready, old: .connecting, address: nil),
        ])
        feed.endpointRemoved("a:1", .ready)
        XCTAssertEqual(take(queue), [
            Seen(tag: 1, flags: endpoint | ConnectivityEvent.Flags.removed, state: .shutdown, old: .ready, address: "a:1"),
            Seen(tag: 1, flags: 0, state: .connecting, old: .ready, address: nil),
            Seen(tag: 2, flags: 0, state: .connecting, old: .ready, address: nil),
        ])
        XCTAssertTrue(feed.cancel(all))
        XCTAssertEqual(take(queue), [Seen(tag: 1, flags: last, state: .connecting, old: .connecting, address: nil)])
    }

    func testShutDownWhenWatchedPostsOneLastEventPerWatchAndNothingAfter() throws {
        let queue = try CompletionQueue()
        let feed = ConnectivityFeed(emptyState: .idle)
        let w = try XCTUnwrap(feed.watch(queue: queue, tag: 5, endpoints: true))
        feed.shutDown()
        feed.shutDown()
        XCTAssertEqual(take(queue), [Seen(tag: 5, flags: last, state: .shutdown, old: .idle, address: nil)])
        XCTAssertFalse(feed.cancel(w), "the watch ended at shutdown")
        feed.endpointAdded("a:1", .ready)
        feed.discoveryAnswered()
        XCTAssertEqual(take(queue), [])
        XCTAssertNil(feed.watch(queue: queue, tag: 6, endpoints: false))
        XCTAssertEqual(feed.state, .shutdown)
    }

    func testCancelTwiceEndsOnce() throws {
        let queue = try CompletionQueue()
        let feed = ConnectivityFeed(emptyState: .connecting)
        let w = try XCTUnwrap(feed.watch(queue: queue, tag: 9, endpoints: false))
        XCTAssertTrue(feed.cancel(w))
        XCTAssertFalse(feed.cancel(w))
        feed.discoveryAnswered()
        XCTAssertEqual(take(queue), [Seen(tag: 9, flags: last, state: .connecting, old: .connecting, address: nil)])
    }
}
