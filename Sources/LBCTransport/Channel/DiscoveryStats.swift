/// Counters and the last outcome of discovery, for stats and error messages.
struct DiscoveryStats {
    var resolutions = 0
    var errors = 0
    var emptyAnswers = 0
    var updates = 0
    var pushes = 0
    /// Monotonic ns of the last completed resolution.
    var lastResolutionNs: Int64?
    /// "ok", "empty", "error" or nil before the first resolution.
    var lastResult: String?
    var lastError: String?
}
