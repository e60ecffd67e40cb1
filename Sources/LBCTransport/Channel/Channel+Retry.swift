import LBCCore

/// Retries (gRFC A6) on the loop thread: a call with a retry policy whose attempt
/// failed with a retryable status starts again on another endpoint after a backoff.
/// Calls without a policy never get here (`Call.retry` is nil).
extension Channel {
    /// Give `call` its method's policy as it enters the loop. True when the call was
    /// taken over (hedging) and must not be dispatched as it is.
    func applyRetryPolicy(_ call: Call) -> Bool {
        switch retries.config.policy(forMethod: call.method) {
        case .none:
            return false
        case .retry(let policy):
            call.retry = RetryState(policy: policy)
            return false
        case .hedging(let policy):
            guard let unary = call as? UnaryCall, unary.hedge == nil else { return false }  // streams: one attempt
            startHedging(unary, policy: policy)
            return true
        }
    }

    /// The attempt of `call` (which has a retry policy) ended with `status`: start
    /// another one later and return true, or return false to let the call end.
    func retryIfAllowed(_ call: Call, status: StatusCode) -> Bool {
        let pushback = status == .ok ? nil : RetryState.pushback(call.trailers.firstText(RetryState.pushbackKey))
        let committed = status != .ok && call.committedForRetry()
        let decision = call.retry!.attemptEnded(status: status, pushback: pushback, committed: committed,
                                                throttle: &retries.throttle, random: &retries.random)
        guard case .retry(let delayNs) = decision, !isShutDown else { return false }
        let now = EventLoop.now()
        if let endpoint = call.endpoint {
            callEnded(call, on: endpoint, status: status, nowNs: now)
            call.avoidSlot = endpoint.slot
        }
        metricsAttemptEnded(call, status: status, nowNs: now)
        if let peer = call.peerName { call.earlierPeers.append(peer) }
        call.peerName = nil
        call.endpoint = nil
        call.resetForRetry()
        call.attempts = 0
        call.previousAttempts += 1
        emit(.debug, "\(targetText): retrying \(call.method) after \(status.name) (attempt \(call.previousAttempts + 1) in \(delayNs / 1_000_000) ms)")
        let key = ObjectIdentifier(call)
        retries.pending[key] = call
        _ = loop.schedule(at: now + delayNs) { [self] in
            retries.pending[key] = nil
            guard !call.finished else { return }
            if isShutDown {
                finish(call, .cancelled, "channel closed")
            } else {
                let start = EventLoop.now()
                metricsAttemptStarted(call, nowNs: start)
                dispatch(call, nowNs: start)
            }
        }
        return true
    }

    /// The slot for a retried attempt: the balancer's pick, but another endpoint than
    /// `avoid` (where the previous attempt failed) whenever one is pickable. The
    /// balancer is asked a few times; when it insists (a random policy's bad luck,
    /// or pick_first), the first other pickable endpoint is taken.
    func pickAvoiding(_ avoid: Int, nowNs: Int64) -> Int? {
        let slot = balancer.pick(nowNs: nowNs, avoiding: avoid)
        guard slot == avoid else { return slot }
        for (other, endpoint) in slots.enumerated() where other != avoid {
            if let endpoint, endpoint.pickable { return other }
        }
        return slot
    }

    /// Closing: end the calls waiting between attempts.
    func finishPendingRetries() {
        let calls = retries.pending.values
        retries.pending.removeAll()
        for call in calls where !call.finished { finish(call, .cancelled, "channel closed") }
    }
}
