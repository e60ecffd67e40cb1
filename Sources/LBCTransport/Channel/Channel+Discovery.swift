import LBCCore

extension Channel {
    private var nowMs: Int64 { EventLoop.now() / 1_000_000 }

    /// Start periodic discovery (loop thread).
    func startDiscovery() {
        guard resolver != nil else { return }
        carry(scheduler.start(nowMs: nowMs))
    }

    /// Ask for an early re-resolution (connection lost, GOAWAY), rate-limited.
    func requestReresolution() {
        guard resolver != nil, !isShutDown else { return }
        carry(scheduler.reresolutionRequested(nowMs: nowMs))
    }

    /// Carry out a scheduler action.
    private func carry(_ action: DiscoveryScheduler.Action) {
        guard let resolver, !isShutDown else { return }
        switch action {
        case .none:
            break
        case .resolveNow:
            cancelDiscoveryTimer()
            resolver.resolve { [self] result in resolved(result) }
        case .schedule(let atMs):
            cancelDiscoveryTimer()
            discoveryTimer = loop.schedule(at: EventLoop.nanoseconds(ms: atMs)) { [self] in
                self.discoveryTimer = nil
                self.carry(self.scheduler.timerFired(nowMs: self.nowMs))
            }
        }
    }

    private func cancelDiscoveryTimer() {
        if let t = discoveryTimer {
            loop.cancelTimer(t)
            discoveryTimer = nil
        }
    }

    /// A resolution finished: apply its answer according to the failure policy.
    func resolved(_ result: ResolutionResult) {
        guard !isShutDown else { return }
        stats.resolutions += 1
        stats.lastResolutionNs = EventLoop.now()
        switch result {
        case .failure(let message):
            stats.errors += 1
            stats.lastResult = "error"
            stats.lastError = message
            emit(.warning, "\(targetText): \(message); keeping the last known \(endpoints.count) endpoint(s)")
            carry(scheduler.resolutionFailed(nowMs: nowMs))
            connectivity.discoveryAnswered()
            failWaitingIfHopeless()
        case .addresses(let addresses, let ttl, let weights):
            stats.lastError = nil
            if addresses.isEmpty {
                stats.emptyAnswers += 1
                stats.lastResult = "empty"
                if options.emptyAnswer == .keep && !endpoints.isEmpty {
                    emit(.warning, "\(targetText): resolution returned no addresses; keeping the last known \(endpoints.count) endpoint(s) (empty_answer=keep)")
                } else {
                    if !endpoints.isEmpty {
                        emit(.warning, "\(targetText): resolution returned no addresses; removing all endpoints (empty_answer=apply)")
                    }
                    updateEndpoints([], origin: "resolution")
                }
            } else {
                stats.lastResult = "ok"
                updateEndpoints(addresses, weights: weights, origin: "resolution")
            }
            carry(scheduler.resolutionSucceeded(nowMs: nowMs, ttlSeconds: ttl))
            failWaitingIfHopeless()
        }
    }

    /// Move the endpoint set to `addresses`: new endpoints start connecting and join the
    /// picker when READY; vanished ones take no new RPCs and close once their RPCs end.
    func updateEndpoints(_ offered: [EndpointAddress], weights: [EndpointAddress: Int] = [:], origin: String) {
        guard !isShutDown else { return }
        discoveredEndpoints = offered.count
        let addresses = RendezvousSubset.select(offered, size: options.subsetSize, clientID: subsetClientID)
        let diff = EndpointSetDiff(current: endpoints.map(\.address), next: addresses)
        defer {
            applyWeights(weights)
            connectivity.discoveryAnswered()  // after the adds: no TRANSIENT_FAILURE in between
        }
        guard !diff.isEmpty else { return }
        stats.updates += 1
        var removedSlots: [Int] = []
        var leaving: [Endpoint] = []
        if !diff.removed.isEmpty {
            let gone = Set(diff.removed)
            for endpoint in endpoints where gone.contains(endpoint.address) {
                leaving.append(endpoint)
                retire(endpoint)
                removedSlots.append(endpoint.slot)
                slots[endpoint.slot] = nil
                freeSlots.append(endpoint.slot)
                endpoint.slot = -1
            }
            endpoints.removeAll { gone.contains($0.address) }
        }
        let backoff = options.backoff
        var added: [Endpoint] = []
        let joiningEmptySet = endpoints.isEmpty
        for address in diff.added {
            let slot = freeSlots.popLast() ?? slots.count
            if slot == slots.count { slots.append(nil) }
            let endpoint = Endpoint(address: address, backoff: backoff, resetBackoffAfterMs: options.backoffResetAfterMs,
                                    channel: self, slot: slot)
            endpoint.rampsWhenReady = !joiningEmptySet
            slots[slot] = endpoint
            endpoints.append(endpoint)
            added.append(endpoint)
        }
        balancer.endpointsChanged(added: added.map(\.slot), removed: removedSlots, nowNs: EventLoop.now())
        for endpoint in added { apply(endpoint.machine.start(), to: endpoint) }
        // Joins first, then departures: replacing the whole set passes through no
        // empty set (no TRANSIENT_FAILURE in between).
        for endpoint in added { endpoint.joinConnectivity() }
        for endpoint in leaving { endpoint.leaveConnectivity() }
        let addedText = diff.added.map(\.description).joined(separator: ", ")
        let removedText = diff.removed.map(\.description).joined(separator: ", ")
        emit(.info, "\(targetText): endpoints updated by \(origin): added [\(addedText)], removed [\(removedText)], now \(endpoints.count)")
        if !endpoints.isEmpty { firstEndpoints.signal() }
    }

    /// Give each endpoint its weight from the last update (1 when it names none).
    private func applyWeights(_ weights: [EndpointAddress: Int]) {
        guard !weights.isEmpty || endpoints.contains(where: { $0.weight != 1 }) else { return }
        for endpoint in endpoints {
            let weight = weights[endpoint.address] ?? 1
            if weight != endpoint.weight {
                endpoint.weight = weight
                balancer.weightChanged(endpoint.slot, weight: weight)
            }
        }
    }

    /// Take `endpoint` out of service: no new RPCs; its connections close when idle.
    private func retire(_ endpoint: Endpoint) {
        endpoint.update { $0.drain() }
        endpoint.health?.connectionGone()  // its watch stream must not keep the connection open
        if let t = endpoint.retryTimer {
            loop.cancelTimer(t)
            endpoint.retryTimer = nil
        }
        if let t = endpoint.ejectionTimer {
            loop.cancelTimer(t)
            endpoint.ejectionTimer = nil
        }
        if let connection = endpoint.connection {
            endpoint.connection = nil
            endpoint.draining.append(connection)
        }
        for connection in endpoint.draining { connection.drain() }
        if !endpoint.draining.isEmpty { retired.append(endpoint) }
    }
}
