import LBCCore

/// grpc.health.v1 health checking of one endpoint (option `health_check_service`):
/// carries out what its ``HealthCheckStateMachine`` asks — the `Health/Watch`
/// internal stream on the endpoint's connection, the retry timer — and puts the
/// resulting health into the endpoint's state (so the balancer hears when it
/// becomes pickable or stops being so). Loop thread only.
final class HealthWatch: InternalStreamDelegate {
    static let method = "/grpc.health.v1.Health/Watch"
    /// Health responses are a few bytes; anything larger is not one.
    static let maxResponseBytes = 4096

    /// The owner; it outlives its health watch.
    unowned(unsafe) let endpoint: Endpoint
    private var machine: HealthCheckStateMachine
    /// The serialized HealthCheckRequest (the same for every stream).
    private let request: [UInt8]
    private let service: String
    /// The open watch stream, if any.
    private var stream: InternalCall?
    private var retryTimer: ClosureTimer?

    init(endpoint: Endpoint, service: String, backoff: ConnectionBackoff) {
        self.endpoint = endpoint
        self.service = service
        self.request = HealthCheckCodec.request(service: service)
        self.machine = HealthCheckStateMachine(backoff: backoff)
    }

    private var channel: Channel { endpoint.channel }

    /// The endpoint's current connection became READY (before its connectivity says
    /// so: the endpoint must not be pickable before the first answer).
    func connectionReady() {
        apply(machine.connectionReady())
    }

    /// The endpoint's current connection went away (lost, GOAWAY, endpoint removed).
    func connectionGone() {
        apply(machine.connectionGone())
    }

    /// Stop for good (the channel is closing): no stream, no timer.
    func stop() {
        if let t = retryTimer { channel.loop.cancelTimer(t); retryTimer = nil }
        stream = nil
    }

    // MARK: InternalStreamDelegate

    func internalStream(_ stream: InternalCall, received message: [UInt8]) {
        guard stream === self.stream else { return }
        let status: Int32
        do {
            status = try HealthCheckCodec.status(of: message)
        } catch {
            channel.emit(.warning, "\(channel.targetText): \(endpoint.address): health check answer is not a"
                + " HealthCheckResponse (\(error)); re-opening the watch with backoff")
            apply(machine.receivedMalformed())
            return
        }
        let before = machine.health
        machine.received(servingStatus: status)
        publish()
        if machine.health != before {
            let level: LogLevel = machine.health == .serving ? .info : .warning
            channel.emit(level, "\(channel.targetText): \(endpoint.address) health: "
                + "\(EndpointHealth.servingStatusName(status)) (service \"\(service)\")")
        }
    }

    func internalStream(_ stream: InternalCall, endedWith status: StatusCode, message: String) {
        guard stream === self.stream else { return }
        self.stream = nil
        let action = machine.streamEnded(status)
        // A stream ended by its connection's end is not worth a line: the connection's
        // loss is logged, and `connectionGone()` follows at once.
        let connectionGoing = !(endpoint.connection?.hasCapacity ?? false)
        switch connectionGoing ? .none : action {
        case .scheduleRetry(let delayMs):
            channel.emit(.warning, "\(channel.targetText): \(endpoint.address) health watch ended"
                + " (\(status.name): \(message)); re-opening in \(delayMs) ms")
        case .startWatch:
            channel.emit(.info, "\(channel.targetText): \(endpoint.address) health watch ended"
                + " (\(status.name): \(message)); re-opening it")
        default:
            break
        }
        apply(action)
    }

    // MARK: actions

    private func apply(_ action: HealthCheckStateMachine.Action) {
        switch action {
        case .none:
            break
        case .startWatch:
            startWatch()
        case .scheduleRetry(let delayMs):
            if let t = retryTimer { channel.loop.cancelTimer(t) }
            retryTimer = channel.loop.schedule(at: EventLoop.deadline(afterMs: delayMs)) { [self] in
                retryTimer = nil
                guard !channel.isShutDown else { return }
                apply(machine.retryTimerFired())
            }
        case .cancelWatch:
            if let s = stream {
                if machine.phase != .watching { stream = nil }  // its end is of no interest
                channel.cancelInternalStream(s)
            }
        case .cancelRetry:
            if let t = retryTimer { channel.loop.cancelTimer(t); retryTimer = nil }
        case .logUnimplemented:
            channel.emit(.warning, "\(channel.targetText): \(endpoint.address) has no grpc.health.v1 health"
                + " service (Watch: UNIMPLEMENTED); treating it as healthy")
        }
        publish()
    }

    private func startWatch() {
        if let t = retryTimer { channel.loop.cancelTimer(t); retryTimer = nil }
        let s = InternalCall(method: Self.method, request: request, maxReceiveMessageSize: Self.maxResponseBytes,
                             delegate: self)
        stream = s
        if !channel.openInternalStream(s, on: endpoint) {
            stream = nil
            apply(machine.streamEnded(.unavailable))
        }
    }

    /// Put the machine's health into the endpoint's state (which tells the balancer
    /// when pickability flips); wake or fail waiting calls as it changed.
    private func publish() {
        let health = machine.health
        guard health != endpoint.state.health else { return }
        let wasPickable = endpoint.isReady
        let recovered = endpoint.state.health.isFailing && health.allowsCalls
        endpoint.update { $0.setHealth(health) }
        // Back from a failed health check: slow start ramps its share again, as after a
        // reconnect (Envoy's rule), instead of handing it a full share at once.
        if recovered && endpoint.slot >= 0 { channel.balancer.endpointReady(endpoint.slot, nowNs: EventLoop.now()) }
        if endpoint.isReady && !wasPickable {
            channel.retryWaiting()
        } else if health.isFailing {
            channel.failWaitingIfHopeless()
        }
    }
}
