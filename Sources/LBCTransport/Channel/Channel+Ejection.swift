import LBCCore

extension Channel {
    /// Outlier ejection: count `status` against `endpoint`; eject it when it reached the
    /// failure threshold and the ejected share allows (option outlier_*).
    func outlierCallEnded(_ endpoint: Endpoint, status: StatusCode, nowNs: Int64) {
        let policy = options.outlierEjection
        guard endpoint.countForEjection(status, policy: policy) else { return }
        eject(endpoint, nowNs: nowNs, why: "\(policy.consecutiveFailures) failed calls in a row",
              warnIfRefused: endpoint.state.consecutiveFailures == policy.consecutiveFailures)
    }

    /// Start the failure-rate interval timer when that detector is on (loop thread).
    func startOutlierDetection() {
        let policy = options.outlierEjection
        guard policy.failurePercentage > 0, !isShutDown else { return }
        loop.schedule(at: EventLoop.deadline(afterMs: policy.intervalMs)) { [self] in
            guard !isShutDown else { return }
            let now = EventLoop.now()
            for endpoint in endpoints {
                let calls = endpoint.state.intervalCalls, failures = endpoint.state.intervalFailures
                var ejects = false
                endpoint.update { ejects = $0.intervalEnded(policy: policy) }
                if ejects {
                    eject(endpoint, nowNs: now, why: "\(failures) of \(calls) calls failed in \(policy.intervalMs) ms"
                          + " (outlier_failure_percentage=\(policy.failurePercentage))", warnIfRefused: true)
                }
            }
            startOutlierDetection()
        }
    }

    /// Eject `endpoint` (for `why`) unless that would exceed the maximum ejected share.
    private func eject(_ endpoint: Endpoint, nowNs: Int64, why: String, warnIfRefused: Bool) {
        let policy = options.outlierEjection
        let ejected = endpoints.reduce(0) { $0 + ($1.state.isEjected ? 1 : 0) }
        guard policy.allowsEjection(ejected: ejected, total: endpoints.count) else {
            if warnIfRefused {
                emit(.warning, "\(targetText): \(endpoint.address): \(why), but it is not ejected: \(ejected) of"
                    + " \(endpoints.count) endpoints are ejected already (outlier_max_ejection_percent=\(policy.maxEjectionPercent))")
            }
            return
        }
        var until: Int64 = 0
        endpoint.update { until = $0.eject(nowNs: nowNs, policy: policy) }
        let ms = (until - nowNs) / 1_000_000
        emit(.warning, "\(targetText): ejected \(endpoint.address) for \(ms) ms after \(why) (ejection \(endpoint.state.ejections))")
        endpoint.ejectionTimer = loop.schedule(at: until) { [self] in
            endpoint.ejectionTimer = nil
            guard !isShutDown, !endpoint.retired else { return }
            let now = EventLoop.now()
            endpoint.update { $0.unejected(nowNs: now) }
            // Slow start ramps its share again (a full share at once could eject it again).
            if endpoint.slot >= 0 { balancer.endpointReady(endpoint.slot, nowNs: now) }
            emit(.info, "\(targetText): \(endpoint.address) returns from ejection")
            retryWaiting()
        }
    }
}
