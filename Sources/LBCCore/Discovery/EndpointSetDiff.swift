/// What changes between the current endpoint set and a newly resolved one.
///
/// Computed in O(n) with hash sets. Order is kept so that logs and `pick_first` see
/// endpoints in resolution order.
///
/// ```swift
/// let a = EndpointAddress.ipv4(host: "10.0.0.1", port: 80)
/// let b = EndpointAddress.ipv4(host: "10.0.0.2", port: 80)
/// let c = EndpointAddress.ipv4(host: "10.0.0.3", port: 80)
/// let diff = EndpointSetDiff(current: [a, b], next: [c, b])
/// // diff.added == [c], diff.removed == [a], diff.kept == [b]
/// ```
package struct EndpointSetDiff: Equatable, Sendable {
    /// Endpoints of `next` that are not in `current`, in `next` order.
    package var added: [EndpointAddress]
    /// Endpoints of `current` that are not in `next`, in `current` order.
    package var removed: [EndpointAddress]
    /// Endpoints in both, in `current` order.
    package var kept: [EndpointAddress]

    /// Duplicates in `next` count once.
    ///
    /// Duplicates in `current` also appear once in `removed` or `kept`.
    package init(current: [EndpointAddress], next: [EndpointAddress]) {
        let nextSet = Set(next)
        var currentSet = Set<EndpointAddress>(minimumCapacity: current.count)
        var removed: [EndpointAddress] = []
        var kept: [EndpointAddress] = []
        for address in current where currentSet.insert(address).inserted {
            if nextSet.contains(address) {
                kept.append(address)
            } else {
                removed.append(address)
            }
        }
        var added: [EndpointAddress] = []
        var seen = Set<EndpointAddress>(minimumCapacity: next.count)
        for address in next where !currentSet.contains(address) && seen.insert(address).inserted {
            added.append(address)
        }
        self.added = added
        self.removed = removed
        self.kept = kept
    }

    /// True when nothing is added and nothing removed (the order may still differ).
    package var isEmpty: Bool { added.isEmpty && removed.isEmpty }
}
