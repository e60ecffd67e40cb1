import LBCCore

/// Hedging (gRFC A6) on the loop thread: a unary call with a hedging policy sends
/// copies of its request (each picked by the balancer, avoiding the endpoint of the
/// previous copy) every `hedging_delay_ms` until one answers; the first OK or fatal
/// answer is the call's, the other copies are reset (RST_STREAM CANCEL).
extension Channel {
    /// `call` entered the loop with a hedging policy: send its first copy.
    func startHedging(_ call: UnaryCall, policy: HedgingPolicy) {
        let group = HedgeGroup(parent: call, policy: policy, channel: self)
        call.hedge = group
        retries.pending[ObjectIdentifier(call)] = call
        apply(group.state.start(), to: group)
    }

    /// Carry out what the group's ``HedgingState`` decided.
    private func apply(_ action: HedgingState.Action, to group: HedgeGroup, ended copy: UnaryCall? = nil) {
        switch action {
        case .none, .ignore:
            break
        case .startAttempt(let next):
            arm(group, inNs: next)
            startCopy(of: group)
        case .rearm(let ns):
            arm(group, inNs: ns)
        case .commit:
            if let copy { commit(group, winner: copy) }
        }
    }

    private func arm(_ group: HedgeGroup, inNs delay: Int64?) {
        if let timer = group.timer { loop.cancelTimer(timer) }
        group.timer = nil
        guard let delay else { return }
        group.timer = loop.schedule(at: EventLoop.now() + delay) { [self] in
            group.timer = nil
            guard !group.done, !isShutDown else { return }
            apply(group.state.timerFired(throttle: &retries.throttle), to: group)
        }
    }

    private func startCopy(of group: HedgeGroup) {
        let parent = group.parent
        let copy = UnaryCall(copyOf: parent, group: group)
        copy.previousAttempts = group.copies.count
        copy.avoidSlot = group.copies.last?.endpoint?.slot ?? -1
        copy.channel = self
        group.copies.append(copy)
        let now = EventLoop.now()
        copy.methodKey = parent.methodKey  // each copy is an attempt of the parent's call
        metricsAttemptStarted(copy, nowNs: now)
        dispatch(copy, nowNs: now)
    }

    /// A copy finished (its `complete` ran).
    func hedgeCopyEnded(_ copy: UnaryCall, group: HedgeGroup) {
        guard !group.done else { return }
        let pushback = copy.status == .ok ? nil : RetryState.pushback(copy.trailers.firstText(RetryState.pushbackKey))
        let action = group.state.attemptEnded(status: copy.status, pushback: pushback, throttle: &retries.throttle)
        apply(action, to: group, ended: copy)
    }

    /// `winner` decides the call: cancel the other copies, give the parent its result.
    private func commit(_ group: HedgeGroup, winner: UnaryCall) {
        let parent = group.parent
        group.done = true
        for copy in group.copies where copy !== winner {
            if !copy.finished { cancel(copy, dispatched: true) }
            if let peer = copy.peerName { parent.earlierPeers.append(peer) }
        }
        parent.response = winner.response
        parent.machine.headers = winner.headers
        parent.machine.trailers = winner.trailers
        parent.peerName = winner.peerName
        finish(parent, winner.status, winner.statusMessage)
    }

    /// The hedged call ended (a copy won, the deadline passed, the caller cancelled, the
    /// channel closed): stop the timer and the copies still in flight.
    func hedgeParentEnded(_ group: HedgeGroup) {
        retries.pending[ObjectIdentifier(group.parent)] = nil
        if let timer = group.timer { loop.cancelTimer(timer) }
        group.timer = nil
        if !group.done {
            group.done = true
            for copy in group.copies {
                if !copy.finished { cancel(copy, dispatched: true) }
                if let peer = copy.peerName { group.parent.earlierPeers.append(peer) }
            }
        }
        // Copies still closing their streams point at the group; the group lets go
        // of them so nothing keeps the others alive in a cycle.
        group.copies.removeAll()
    }
}
