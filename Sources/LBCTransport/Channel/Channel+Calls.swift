import LBCCore

extension Channel {
    /// A call entered the loop: arm its deadline and dispatch it.
    func admit(_ call: Call) {
        if call.finished { return }  // cancelled before it got here
        let now = EventLoop.now()
        metricsCallAdmitted(call, nowNs: now)
        if isShutDown {
            finish(call, .cancelled, "channel closed")
            return
        }
        if let deadline = call.deadlineNs {
            if deadline <= now {
                finish(call, .deadlineExceeded, deadlineMessage(call))
                return
            }
            if !call.deadlineWatchedByWaiter {
                loop.schedule(at: deadline, target: call)
                call.timerArmed = true
            }
        }
        if retries.enabled, applyRetryPolicy(call) { return }  // hedging: the copies are the attempts
        metricsAttemptStarted(call, nowNs: now)
        dispatch(call, nowNs: now)
    }

    /// Put `call` on the endpoint the balancer picks, queue it, or fail it fast.
    func dispatch(_ call: Call, nowNs now: Int64 = EventLoop.now()) {
        let picked = call.avoidSlot < 0 ? balancer.pick(nowNs: now) : pickAvoiding(call.avoidSlot, nowNs: now)
        if let slot = picked, let endpoint = slots[slot] {
            call.attempts += 1
            if let connection = endpoint.connection, connection.startStream(call) {
                call.endpoint = endpoint
                call.peerName = endpoint.addressText
                call.dispatchedNs = now
                endpoint.inFlight += 1
                endpoint.callsStarted += 1
                balancer.callStarted(slot)
                endpoint.streamStarted(on: connection)
                call.didDispatch()
                return
            }
            if call.attempts < 2 {
                dispatch(call, nowNs: now)  // the connection stopped taking streams: pick again
            } else {
                finish(call, .unavailable, "could not open a stream to \(endpoint.address)")
            }
            return
        }
        if let reason = failFastReason() {
            finish(call, .unavailable, reason)
        } else {
            waiting.append(call)
            // Once per episode of waiting, not per call: the scan is O(endpoints).
            if waiting.count == 1 { requestIdleConnections() }
        }
    }

    /// Calls are waiting for a READY endpoint: endpoints left IDLE by an early GOAWAY
    /// reconnect now rather than when their backoff expires.
    private func requestIdleConnections() {
        for endpoint in endpoints where endpoint.machine.state == .idle && !endpoint.retired {
            apply(endpoint.machine.requestConnection(), to: endpoint)
        }
    }

    /// When the RPC must fail now with UNAVAILABLE: no READY endpoint and every
    /// endpoint has failed since it was last ready (unless wait_for_ready).
    func failFastReason() -> String? {
        guard !options.waitForReady else { return nil }
        if endpoints.isEmpty {
            if let error = stats.lastError { return "name resolution failed: \(error)" }
            if stats.lastResult == "empty" { return "no endpoints: the last resolution returned no addresses" }
            return nil  // still resolving, or waiting for pushed endpoints
        }
        // An endpoint whose health check says NOT_SERVING (or whose watch failed) is
        // failing too (gRFC A17: TRANSIENT_FAILURE); one awaiting its first answer is not.
        for endpoint in endpoints
        where endpoint.isReady || (!endpoint.machine.failingSinceReady && !endpoint.state.isHealthFailing) {
            return nil
        }
        let details = endpoints.map { e in
            let why = e.state.isHealthFailing && e.connection != nil
                ? "health check: \(e.state.health.name)" : (e.lastError ?? "not connected")
            return "\(e.address): \(why)"
        }
        return "no endpoint is available (" + details.joined(separator: "; ") + ")"
    }

    /// Dispatch waiting calls again, oldest first (an endpoint became ready, came back
    /// from ejection, got a free stream slot, or failed). Stops at the first call that
    /// has to wait again: the rest wait too, in order.
    func retryWaiting() {
        guard !waiting.isEmpty else { return }
        let calls = waiting
        waiting.removeAll()
        for (i, call) in calls.enumerated() where !call.finished {
            dispatch(call)
            if let last = waiting.last, last === call {
                for rest in calls[(i + 1)...] where !rest.finished { waiting.append(rest) }
                return
            }
        }
    }

    /// A call counted as waiterless whose waiting callers may lead the loop from now
    /// on (a stream whose queue gets only its end event): count it as a queued call
    /// (``LoopLeadership``). False when it is not (it ended, or is led already).
    /// Loop thread.
    func countWaitersAsLeading(_ call: Call) -> Bool {
        guard call.waiterless else { return false }
        call.queuedForPoller = true
        loop.noteQueuedCall(started: true)
        call.waiterless = false
        loop.noteWaiterlessCall(started: false)
        return true
    }

    /// Finish `call` once: update counters, cancel its deadline, wake its caller.
    func finish(_ call: Call, _ status: StatusCode, _ message: String) {
        guard call.machine.finish() else { return }
        call.channel = nil
        call.connection = nil
        if call.timerArmed { loop.timerCancelled() }
        if call.waiterless {
            call.waiterless = false
            loop.noteWaiterlessCall(started: false)
        }
        if call.queuedForPoller {
            call.queuedForPoller = false
            loop.noteQueuedCall(started: false)
        }
        let now = EventLoop.now()
        if let endpoint = call.endpoint { callEnded(call, on: endpoint, status: status, nowNs: now) }
        metricsCallEnded(call, status: status, nowNs: now)
        call.complete(status, message)
    }

    /// `call` left `endpoint` with `status` (nil: refused, to be retried elsewhere):
    /// counters, its attempt's metrics, the balancer (`callFinished`) and outlier ejection.
    func callEnded(_ call: Call, on endpoint: Endpoint, status: StatusCode?, nowNs now: Int64 = EventLoop.now()) {
        metricsAttemptEnded(call, status: status ?? .unavailable, nowNs: now)
        endpoint.inFlight -= 1
        let latency = now - call.dispatchedNs
        if let status {
            if status != .ok { endpoint.callsFailed += 1 }
            endpoint.recordLatency(ns: latency)
        }
        let slot = endpoint.slot
        guard slot >= 0 else { return }  // left the endpoint set
        balancer.callFinished(slot, status: status ?? .unavailable, latencyNs: status == nil ? -1 : latency, nowNs: now)
        if let status, options.outlierEjection.isEnabled {
            outlierCallEnded(endpoint, status: status, nowNs: now)
        }
    }

    func deadlineExpired(_ call: Call) {
        guard !call.finished else { return }
        abandon(call)
        finish(call, .deadlineExceeded, deadlineMessage(call))
    }

    /// The caller cancelled `call`; `dispatched` is false when it never entered `admit`.
    func cancel(_ call: Call, dispatched: Bool) {
        guard !call.finished else { return }
        if dispatched { abandon(call) }
        finish(call, .cancelled, "cancelled by the client")
    }

    /// Undo what `call` holds: its stream (RST_STREAM CANCEL), its place in a
    /// connection's queue, or in the waiting list.
    private func abandon(_ call: Call) {
        switch call.machine.abandon() {
        case .none:
            break
        case .resetStream:
            if let connection = call.connection, call.streamID > 0 { connection.resetStream(call.streamID) }
        case .leaveConnectionQueue:
            // No stream exists, so nothing would ever report its end: remove it now.
            call.connection?.removeQueued(call)
        case .leaveWaitingList:
            if let i = waiting.firstIndex(where: { $0 === call }) { waiting.remove(at: i) }
        }
    }

    private func deadlineMessage(_ call: Call) -> String {
        let where_ = call.peer.isEmpty ? "while waiting for an endpoint" : "on \(call.peer)"
        return "deadline exceeded after \(call.timeoutMs ?? 0) ms \(where_)"
    }
}
