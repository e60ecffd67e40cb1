import XCTest
@testable import LBCCore

final class RendezvousSubsetTests: XCTestCase {
    private func fleet(_ n: Int, from first: Int = 0) -> [EndpointAddress] {
        (first..<(first + n)).map { .ipv4(host: "10.\($0 / 65536).\($0 / 256 % 256).\($0 % 256)", port: 50051) }
    }

    func testSelectKeepsEverythingWhenSizeIsZeroOrLarge() {
        let all = fleet(5)
        XCTAssertEqual(RendezvousSubset.select(all, size: 0, clientID: 1), all)
        XCTAssertEqual(RendezvousSubset.select(all, size: 5, clientID: 1), all)
        XCTAssertEqual(RendezvousSubset.select(all, size: 9, clientID: 1), all)
    }

    func testSelectIsStableAndIndependentOfInputOrder() {
        let all = fleet(200)
        let id = RendezvousSubset.clientID("client-a")
        let subset = RendezvousSubset.select(all, size: 7, clientID: id)
        XCTAssertEqual(subset.count, 7)
        XCTAssertEqual(RendezvousSubset.select(all, size: 7, clientID: id), subset)
        let shuffled = RendezvousSubset.select(all.reversed(), size: 7, clientID: id)
        XCTAssertEqual(Set(shuffled), Set(subset))
        // Kept in input order.
        XCTAssertEqual(subset, all.filter(Set(subset).contains))
        // The hash is fixed: the same id picks the same subset in every process.
        XCTAssertEqual(RendezvousSubset.clientID("client-a"), id)
        XCTAssertNotEqual(RendezvousSubset.select(all, size: 7, clientID: RendezvousSubset.clientID("client-b")), subset)
    }

    /// 100 clients × 1,000 endpoints × subsets of 10: connections per endpoint.
    func testSpreadOfConnectionsOverTheFleet() {
        let all = fleet(1000)
        var perEndpoint: [EndpointAddress: Int] = [:]
        for client in 0..<100 {
            for a in RendezvousSubset.select(all, size: 10, clientID: RendezvousSubset.clientID("client-\(client)")) {
                perEndpoint[a, default: 0] += 1
            }
        }
        let counts = all.map { perEndpoint[$0] ?? 0 }
        let histogram = Dictionary(grouping: counts, by: { $0 }).mapValues(\.count)
        print("subsetting spread, 100 clients x 1000 endpoints x 10: connections per endpoint -> endpoints \(histogram.sorted { $0.key < $1.key })")
        XCTAssertEqual(counts.reduce(0, +), 1000)
        // Each endpoint is in a subset with probability 1/100 per client: Binomial(100, 0.01),
        // mean 1; P(count >= 7) < 1e-4 per endpoint. A skewed hash piles clients up.
        XCTAssertLessThanOrEqual(counts.max()!, 6, "\(histogram)")
        XCTAssertGreaterThan(histogram[0] ?? 0, 300)  // about e^-1 = 37 % unused, like random
        XCTAssertLessThan(histogram[0] ?? 0, 440)
    }

    /// 100 clients × 1,000 endpoints × 10: 10 % of the endpoints replaced by new ones.
    func testChurnWhenTenPercentOfTheEndpointsChange() {
        let before = fleet(1000)
        let after = Array(before.dropFirst(100)) + fleet(100, from: 5000)
        var moved = 0
        var forced = 0
        for client in 0..<100 {
            let id = RendezvousSubset.clientID("client-\(client)")
            let a = Set(RendezvousSubset.select(before, size: 10, clientID: id))
            let b = Set(RendezvousSubset.select(after, size: 10, clientID: id))
            moved += a.subtracting(b).count
            forced += a.subtracting(Set(after)).count
        }
        print("subsetting churn, 10 % of 1000 endpoints replaced: \(moved) of 1000 connections moved (\(forced) had to: their endpoint left)")
        // Removed members must move (~10 %); new endpoints win a place in ~10 % more.
        // A hash of (client, position) instead would reshuffle most subsets.
        XCTAssertGreaterThanOrEqual(moved, forced)
        XCTAssertLessThanOrEqual(moved, 260)
    }
}
