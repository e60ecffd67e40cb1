import LBCCore

extension Channel {
    /// Outlier ejection: count `status` against `endpoint`; eject it when it reached the
    /// failure threshold and the ejected share allows (option outlier_*).
    func outlierCallEnded(_ endpoint: Endpoint, status: StatusCode, nowNs: Int64) {
        let policy = options.outlierEjection
        guard endpoint.countForEjection(status, policy: policy) else { return }
        let ejected = endpoints.reduce(0) { $0 + ($1.state.isEjected ? 1 : 0) }
        guard policy.allowsEjection(ejected: ejected, total: endpoints.count) else {
            if endpoint.state.consecutiveFailures == policy.consecutiveFailures {
                emit(.warning, "\(targetText): \(endpoint.address) failed \(policy.consecutiveFailures) calls in a row"
                    + " but is not ejected: \(ejected) of \(endpoints.count) endpoints are ejected already"
                    + " (outlier_max_ejection_percent=\(policy.maxEjectionPercent))")
            }
            return
        }
        var until: Int64 = 0
        endpoint.update { until = $0.eject(nowNs: nowNs, policy: policy) }
        let ms = (until - nowNs) / 1_000_000
        emit(.warning, "\(targetText): ejected \(endpoint.address) for \(ms) ms after \(policy.consecutiveFailures)"
            + " failed calls in a row (ejection \(endpoint.state.ejections))")
        endpoint.ejectionTimer = loop.schedule(at: until) { [self] in
            endpoint.ejectionTimer = nil
            guard !isShutDown, !endpoint.retired else { return }
            endpoint.update { $0.unejected(nowNs: EventLoop.now()) }
            emit(.info, "\(targetText): \(endpoint.address) returns from ejection")
            retryWaiting()
        }
    }
}
