/// Whether opening a channel waits for its first resolution (option `resolution`; the raw
/// values are the option's text).
///
/// ```swift
/// ResolutionMode(rawValue: "eager")   // .eager
/// ```
package enum ResolutionMode: String, Sendable, CaseIterable {
    /// Open returns at once; discovery runs in the background (the default).
    case lazy
    /// Open waits for the first resolution, up to `eager_timeout_ms`.
    case eager
}
