import LBCCore

/// The "metrics" object of the stats JSON, documented at lbc_channel_stats_json. Any
/// thread (formatted from a snapshot's copy).
extension MethodMetrics {
    /// The bucket bounds line, the same for every histogram: formatted once.
    private static let boundsJSON = "[" + LatencyHistogram.boundsMicros.map { String($0) }.joined(separator: ",") + "]"

    /// Append `{"latency_bounds_us": [...], "max_methods": N, "methods": [...]}`.
    func appendJSON(to out: inout String) {
        out += "{\"latency_bounds_us\":" + Self.boundsJSON
        out += ",\"max_methods\":\(maxMethods),\"methods\":["
        for (i, entry) in entries.enumerated() {
            if i > 0 { out += "," }
            out += "{\"method\":\(JSON.quote(entry.name)),\"attempts_started\":\(entry.attemptsStarted)"
            out += ",\"attempts\":"
            Self.appendJSON(entry.attempts, to: &out)
            out += ",\"calls\":"
            Self.appendJSON(entry.calls, to: &out)
            out += "}"
        }
        out += "]}"
    }

    /// `{"OK": {"count": 2, "sum_us": 310, "buckets": [...]}, ...}`.
    private static func appendJSON(_ histograms: [StatusHistogram], to out: inout String) {
        out += "{"
        for (i, h) in histograms.enumerated() {
            if i > 0 { out += "," }
            out += "\"\(h.status.name)\":{\"count\":\(h.histogram.count),\"sum_us\":\(h.histogram.sumNs / 1000)"
            out += ",\"buckets\":["
            for (k, n) in h.histogram.buckets.enumerated() {
                if k > 0 { out += "," }
                out += String(n)
            }
            out += "]}"
        }
        out += "}"
    }
}
