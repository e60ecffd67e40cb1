/// Deterministic subsetting by rendezvous (highest-random-weight) hashing: each client
/// keeps the `size` endpoints that score highest for its client id.
///
/// Scores depend only on (client id, endpoint address), so a client's subset is stable
/// across resolutions and input orders, different clients spread over different
/// endpoints, and a discovery change moves only the connections it must: a removed
/// member is replaced by the next best endpoint, an added endpoint enters only the
/// subsets where it scores in the top `size`. The hash is fixed (FNV-1a + a
/// SplitMix64 finalizer), the same in every process and version.
///
/// ```swift
/// let id = RendezvousSubset.clientID("frontend-7")
/// let subset = RendezvousSubset.select(addresses, size: 5, clientID: id)
/// ```
package enum RendezvousSubset {
    /// The endpoints to use: the `size` highest scores for `clientID`, in their input
    /// order; all of them when `size` is 0 or at least their number.
    package static func select(_ addresses: [EndpointAddress], size: Int, clientID: UInt64) -> [EndpointAddress] {
        guard size > 0, size < addresses.count else { return addresses }
        var scored = addresses.enumerated().map { (index: $0.offset, score: score(clientID, $0.element)) }
        // Highest score first; ties (astronomically rare) by input position.
        scored.sort { $0.score != $1.score ? $0.score > $1.score : $0.index < $1.index }
        let chosen = scored.prefix(size).map(\.index).sorted()
        return chosen.map { addresses[$0] }
    }

    /// The score of `address` for `clientID`.
    package static func score(_ clientID: UInt64, _ address: EndpointAddress) -> UInt64 {
        mix(fnv1a(address.description) ^ mix(clientID))
    }

    /// A client id from its text form (the `subset_client_id` option).
    package static func clientID(_ text: String) -> UInt64 { mix(fnv1a(text)) }

    static func fnv1a(_ text: String) -> UInt64 {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        for byte in text.utf8 {
            h ^= UInt64(byte)
            h &*= 0x0000_0100_0000_01B3
        }
        return h
    }

    /// SplitMix64's finalizer: every input bit affects every output bit.
    static func mix(_ x: UInt64) -> UInt64 {
        var z = x &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
