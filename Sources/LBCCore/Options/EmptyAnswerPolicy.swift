/// What discovery does with a resolution that succeeded but returned no address
/// (option `empty_answer`; the raw values are the option's text).
///
/// ```swift
/// EmptyAnswerPolicy(rawValue: "apply")   // .apply
/// ```
package enum EmptyAnswerPolicy: String, Sendable, CaseIterable {
    /// Keep the last known good endpoint set and log (the default): an empty answer is more
    /// often a DNS or registry glitch than a service with no replicas.
    case keep
    /// Apply it: every endpoint is drained and RPCs find no endpoint.
    case apply
}
