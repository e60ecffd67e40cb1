import LBCCore

/// The outcome of one resolution.
package enum ResolutionResult: Sendable {
    /// The addresses found (possibly none: an empty answer), the smallest TTL, if known,
    /// and the weights some of them carry (`ADDRESS;weight=N`; others weigh 1).
    case addresses([EndpointAddress], ttlSeconds: UInt32?, weights: [EndpointAddress: Int] = [:])
    /// The lookup failed; the message says why.
    case failure(String)
}

/// A source of endpoint addresses, driven by the channel on its loop thread.
package protocol Resolver: AnyObject {
    /// Short name for stats and logs: "dns", "lookup", "static", "manual".
    var kind: String { get }
    /// Start one resolution; `completion` runs on the loop thread exactly once,
    /// unless the resolver is shut down first.
    func resolve(_ completion: @escaping (ResolutionResult) -> Void)
    /// Stop: cancel queries, release sockets and threads. Loop thread.
    func shutDown()
}
