/// The connection life cycle of one endpoint, without I/O.
///
/// Each event returns the action the owner must carry out. Backoff follows gRPC's
/// connection-backoff.md: a connection that reached READY and was then lost is
/// retried at once with the backoff reset; failed attempts wait for the next backoff.
///
/// ```swift
/// var machine = EndpointStateMachine(backoff: options.backoff)
/// if case .connect = machine.start() { openSocket() }
/// ```
package struct EndpointStateMachine: Sendable {
    /// What the owner must do after an event.
    package enum Action: Equatable, Sendable {
        /// Open a new connection now.
        case connect
        /// Wait this many milliseconds, then call `retryTimerFired()`.
        case scheduleRetry(delayMs: Int64)
        /// Nothing to do.
        case none
    }

    package private(set) var state: ConnectivityState = .idle
    /// True once an attempt failed since the endpoint was last READY ("sticky"
    /// TRANSIENT_FAILURE: a reconnecting endpoint that keeps failing still counts as failing).
    package private(set) var failingSinceReady = false
    private var backoff: ConnectionBackoff
    private let random: @Sendable () -> Double

    package init(backoff: ConnectionBackoff, random: @escaping @Sendable () -> Double = { Double.random(in: -1...1) }) {
        self.backoff = backoff
        self.random = random
    }

    /// The endpoint joined the channel.
    package mutating func start() -> Action {
        guard state == .idle else { return .none }
        state = .connecting
        return .connect
    }

    /// The HTTP/2 connection is usable (server SETTINGS received).
    package mutating func connected() {
        state = .ready
        failingSinceReady = false
        backoff.reset()
    }

    /// The connection attempt failed or timed out.
    package mutating func connectFailed() -> Action {
        guard state == .connecting else { return .none }
        state = .transientFailure
        failingSinceReady = true
        return .scheduleRetry(delayMs: backoff.nextDelayMs(random: random))
    }

    /// An established connection was lost (socket error, EOF).
    package mutating func connectionLost() -> Action {
        guard state == .ready else { return connectFailed() }
        state = .connecting
        return .connect
    }

    /// The server sent GOAWAY: the old connection drains, a new one starts now.
    package mutating func goAway() -> Action {
        guard state == .ready else { return .none }
        state = .connecting
        return .connect
    }

    /// The backoff timer expired.
    package mutating func retryTimerFired() -> Action {
        guard state == .transientFailure else { return .none }
        state = .connecting
        return .connect
    }
}
