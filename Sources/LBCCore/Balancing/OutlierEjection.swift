/// Outlier ejection settings (Envoy's consecutive-failure detector, gRFC A50's
/// ejection times): an endpoint whose last `consecutiveFailures` calls all failed with
/// a counted status leaves the pickable set for `baseEjectionMs` × the number of times
/// it was ejected (at most `maxEjectionMs`; the count starts over once it served
/// `maxEjectionMs` without an ejection), unless that would take more than
/// `maxEjectionPercent` of the endpoints out.
///
/// A second detector ejects by failure rate per interval (``failurePercentage``).
///
/// ```swift
/// var outlier = OutlierEjection()
/// outlier.consecutiveFailures = 5               // 0 (the default) turns it off
/// outlier.counts(.unavailable)                  // true
/// outlier.allowsEjection(ejected: 1, total: 4)  // true: 2 of 4 is 50 %
/// ```
package struct OutlierEjection: Sendable, Equatable {
    /// Failed calls in a row that eject an endpoint; 0 turns ejection off.
    package var consecutiveFailures = 0
    /// The first ejection's length; the n-th lasts n times as long.
    package var baseEjectionMs: Int64 = 30_000
    /// The longest ejection (>= baseEjectionMs in effect).
    package var maxEjectionMs: Int64 = 300_000
    /// At most this share of the endpoints (in percent, floor) is ejected at once.
    package var maxEjectionPercent = 50
    /// The statuses that count as failures, one bit per code (default: UNAVAILABLE).
    /// Connection errors end calls with UNAVAILABLE.
    package var statusMask: UInt32 = 1 << UInt32(StatusCode.unavailable.rawValue)
    /// Failure-rate ejection (gRFC A50's failure_percentage): at the end of each
    /// interval, an endpoint with at least `requestVolume` calls of which at least this
    /// percentage failed is ejected; 0 turns it off.
    package var failurePercentage = 0
    /// The failure-rate interval.
    package var intervalMs: Int64 = 10_000
    /// The fewest calls in an interval for the failure rate to count.
    package var requestVolume = 50

    package init() {}

    /// Ejection is on (either detector).
    @inline(__always)
    package var isEnabled: Bool { consecutiveFailures > 0 || failurePercentage > 0 }

    /// An endpoint with `calls` calls of which `failures` failed in the last interval
    /// is to be ejected for its failure rate.
    package func failureRateEjects(calls: Int, failures: Int) -> Bool {
        failurePercentage > 0 && calls >= max(1, requestVolume) && failures * 100 >= calls * failurePercentage
    }

    /// `status` counts as a failure.
    @inline(__always)
    package func counts(_ status: StatusCode) -> Bool {
        statusMask & (1 << UInt32(status.rawValue)) != 0
    }

    /// One more of `total` endpoints may be ejected when `ejected` already are.
    package func allowsEjection(ejected: Int, total: Int) -> Bool {
        (ejected + 1) * 100 <= total * maxEjectionPercent
    }

    /// How long the `count`-th ejection (1, 2, ...) of an endpoint lasts, in ms.
    package func ejectionMs(count: Int) -> Int64 {
        let cap = max(baseEjectionMs, maxEjectionMs)
        let (product, overflow) = baseEjectionMs.multipliedReportingOverflow(by: Int64(max(1, count)))
        return overflow ? cap : min(product, cap)
    }

    /// The counted statuses as names, e.g. "UNAVAILABLE,INTERNAL".
    package var statusNames: String {
        StatusCode.allCases.filter(counts).map(\.name).joined(separator: ",")
    }
}
