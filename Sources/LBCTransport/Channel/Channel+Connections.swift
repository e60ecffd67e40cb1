import LBCCore

extension Channel: ConnectionDelegate {
    /// Carry out what an endpoint's state machine asked for.
    func apply(_ action: EndpointStateMachine.Action, to endpoint: Endpoint) {
        guard !isShutDown else { return }
        switch action {
        case .none:
            break
        case .connect:
            if let t = endpoint.retryTimer {  // reconnecting before the backoff expired
                loop.cancelTimer(t)
                endpoint.retryTimer = nil
            }
            connect(endpoint)
        case .scheduleRetry(let delayMs):
            // Timer closures capture strongly: a cancelled timer drops its closure, and the
            // loop drops every timer when it stops. (Weak references would put a side
            // table on objects every RPC retains, making each retain/release slower.)
            endpoint.retryTimer = loop.schedule(at: EventLoop.deadline(afterMs: delayMs)) { [self] in
                endpoint.retryTimer = nil
                self.apply(endpoint.machine.retryTimerFired(), to: endpoint)
            }
        }
    }

    private func connect(_ endpoint: Endpoint) {
        var configuration = connectionConfiguration(for: endpoint)
        applyKeepalive(to: &configuration, for: endpoint)
        let connection = HTTP2Connection(address: endpoint.address, loop: loop, configuration: configuration)
        connection.delegate = self
        endpoint.connection = connection
        connection.start()
    }

    private func endpoint(of connection: HTTP2Connection) -> Endpoint? {
        // shutDown() detached every connection before closing them: no scan per
        // connection (O(endpoints²) when a large channel closes).
        guard !isShutDown else { return nil }
        let owns = { (e: Endpoint) in e.connection === connection || e.draining.contains { $0 === connection } }
        return endpoints.first(where: owns) ?? retired.first(where: owns)
    }

    /// Forget `connection` of a retired endpoint; drop the endpoint when nothing is left.
    private func release(_ connection: HTTP2Connection, of endpoint: Endpoint) {
        if endpoint.connection === connection { endpoint.connection = nil }
        endpoint.draining.removeAll { $0 === connection }
        if endpoint.retired && endpoint.connection == nil && endpoint.draining.isEmpty {
            retired.removeAll { $0 === endpoint }
        }
    }

    package func connectionReady(_ connection: HTTP2Connection) {
        guard let endpoint = endpoint(of: connection), endpoint.connection === connection else { return }
        // Health first: the endpoint must not become pickable before its first answer.
        endpoint.health?.connectionReady()
        endpoint.machine.connected(nowMs: EventLoop.now() / 1_000_000)
        endpoint.lastError = nil
        retryWaiting()
    }

    /// New SETTINGS: the endpoint's free stream slots follow the server's limit, and
    /// calls waiting for room may go now.
    package func connectionSettingsChanged(_ connection: HTTP2Connection) {
        guard let endpoint = endpoint(of: connection), endpoint.connection === connection else { return }
        endpoint.refresh()
        retryWaiting()
    }

    package func connectionFailed(_ connection: HTTP2Connection, reason: String) {
        guard let endpoint = activeEndpoint(of: connection, reason: reason) else { return }
        emit(.warning, "\(targetText): \(reason)")
        endpoint.connectFailures += 1
        apply(endpoint.machine.connectFailed(), to: endpoint)
        requestReresolution()
        failWaitingIfHopeless()
    }

    package func connectionLost(_ connection: HTTP2Connection, reason: String) {
        guard let endpoint = activeEndpoint(of: connection, reason: reason) else { return }
        if connection.keepaliveDeclaredDead {
            // The peer stopped answering: a failed connection (backoff), not a clean loss.
            emit(.warning, "\(targetText): \(reason)")
            apply(endpoint.machine.peerUnresponsive(), to: endpoint)
            requestReresolution()
            failWaitingIfHopeless()
            return
        }
        emit(.info, "\(targetText): \(reason)")
        apply(endpoint.machine.connectionLost(nowMs: EventLoop.now() / 1_000_000), to: endpoint)
        requestReresolution()
    }

    /// The endpoint whose current connection just went away (recording why), or nil
    /// when the connection belonged to a retired endpoint or was already replaced.
    private func activeEndpoint(of connection: HTTP2Connection, reason: String) -> Endpoint? {
        guard let endpoint = endpoint(of: connection) else { return nil }
        guard !endpoint.retired, endpoint.connection === connection else {
            release(connection, of: endpoint)
            return nil
        }
        endpoint.connection = nil
        endpoint.lastError = reason
        endpoint.health?.connectionGone()
        return endpoint
    }

    package func connectionDraining(_ connection: HTTP2Connection) {
        guard let endpoint = endpoint(of: connection), !endpoint.retired, endpoint.connection === connection else { return }
        endpoint.connection = nil
        endpoint.health?.connectionGone()  // its watch stream must not keep the connection open
        endpoint.draining.append(connection)
        emit(.info, "\(targetText): \(endpoint.address) sent GOAWAY; draining its connection")
        apply(endpoint.machine.goAway(nowMs: EventLoop.now() / 1_000_000), to: endpoint)
        requestReresolution()
    }

    package func connectionClosed(_ connection: HTTP2Connection) {
        guard let endpoint = endpoint(of: connection) else { return }
        if connection.keepaliveDeclaredDead {
            emit(.warning, "\(targetText): draining connection to \(connection.address) declared dead:"
                + " no keepalive PING ACK within \(options.keepaliveTimeoutMs) ms")
        }
        release(connection, of: endpoint)
    }

    package func streamClosed(_ connection: HTTP2Connection, call: Call, errorCode: UInt32,
                              failure: (StatusCode, String)?) {
        if let endpoint = call.endpoint, endpoint.streamClosed(on: connection) { retryWaiting() }
        guard !call.finished else { return }
        // Refused while other streams are open: the server's stream limit, so the call
        // waits for room (any number of times) instead of using its one retry.
        let atStreamLimit = failure == nil && errorCode == HTTP2ErrorCode.refusedStream && !connection.streams.isEmpty
        let action = failure.map { call.machine.connectionClosed(status: $0.0, message: $0.1) }
            ?? call.machine.streamClosed(errorCode: errorCode, atStreamLimit: atStreamLimit,
                                         requestRetained: call.machine.canResendRequest || call.holdsWholeRequest())
        switch action {
        case .finish(let status, let message):
            // The server answered on its current connection: that connection is healthy
            // (its GOAWAY or loss resets the backoff; see EndpointStateMachine).
            if call.machine.sawResponseHeaders, let endpoint = call.endpoint, endpoint.connection === connection {
                endpoint.callCompleted()
            }
            if call.retry != nil, retryIfAllowed(call, status: status) { return }
            finish(call, status, message)
        case .retryTransparently:
            // gRFC A6: the server never processed it (or it never left the client).
            if let stream = call as? InternalCall {
                internalStreamRefused(stream, on: connection)  // never on another endpoint
                return
            }
            if let endpoint = call.endpoint {
                if atStreamLimit {
                    call.attempts -= 1
                    endpoint.streamRefused(on: connection)
                }
                callEnded(call, on: endpoint, status: nil)
            }
            call.endpoint = nil
            call.resetForRetry()
            if isShutDown {
                finish(call, .cancelled, "channel closed")
            } else {
                let now = EventLoop.now()
                metricsAttemptEnded(call, status: .unavailable, nowNs: now)  // if callEnded did not
                metricsAttemptStarted(call, nowNs: now)  // a transparent retry is an attempt too
                dispatch(call, nowNs: now)
            }
        }
    }

    /// Fail waiting calls when no endpoint can serve them any more.
    func failWaitingIfHopeless() {
        guard !waiting.isEmpty, let reason = failFastReason() else { return }
        let calls = waiting
        waiting.removeAll()
        for call in calls { finish(call, .unavailable, reason) }
    }

    package func connectionNeedsFlush(_ connection: HTTP2Connection) {
        flushList.append(connection)
    }

    /// Write what the connections that asked have queued (once per loop iteration):
    /// the work does not grow with the number of endpoints. Repeats while flushing
    /// queued more (a failed connection's calls retried elsewhere), so nothing waits
    /// for the next wake-up.
    func flushConnections() {
        while !flushList.isEmpty {
            if flushList.count == 1 {
                flushList.removeLast().flush()
                continue
            }
            let list = flushList
            flushList.removeAll(keepingCapacity: true)
            for connection in list { connection.flush() }
        }
    }

    /// Close everything on the loop thread (the final work item).
    func shutDown() {
        isShutDown = true
        connectivity.shutDown()
        if let t = discoveryTimer { loop.cancelTimer(t) }
        // Stop the lookup worker from starting anything new, but wait for a running
        // lookup only after every RPC has ended: the lookup may itself wait for an RPC
        // on this channel.
        lookupWorker?.requestStop()
        let calls = waiting
        waiting.removeAll()
        for call in calls { finish(call, .cancelled, "channel closed") }
        finishPendingRetries()
        for endpoint in endpoints + retired {
            endpoint.health?.stop()
            if let t = endpoint.retryTimer { loop.cancelTimer(t) }
            let connections = [endpoint.connection].compactMap { $0 } + endpoint.draining
            endpoint.connection = nil
            endpoint.draining.removeAll()
            for connection in connections { connection.close(status: .cancelled, reason: "channel closed") }
        }
        resolver?.shutDown()
        resolver = nil
    }
}
