/// The connection life cycle of one endpoint, without I/O.
///
/// Each event returns the action the owner must carry out; events that depend on time
/// take the current monotonic time in milliseconds (`nowMs`). Backoff follows gRPC's
/// connection-backoff.md, with one rule against reconnect storms: a connection must
/// prove healthy — stay READY for `resetBackoffAfterMs`, or serve a call
/// (`callCompleted()`) — before its loss resets the backoff. Reaching READY alone does not, so a server that accepts connections and
/// then drops them or sends GOAWAY at once is retried with a growing backoff instead of
/// in a tight loop:
///
/// - failed attempts wait for the next backoff (TRANSIENT_FAILURE);
/// - a healthy connection that is lost or sent GOAWAY is replaced at once, with the
///   backoff reset;
/// - a connection lost soon after READY counts as a failed attempt (TRANSIENT_FAILURE,
///   next backoff);
/// - the first connection since the last healthy one that sent GOAWAY soon after READY
///   leaves the endpoint IDLE until the next backoff expires, or until calls need it
///   (`requestConnection()`: no endpoint is READY and calls are waiting), as gRPC's
///   subchannels go IDLE on GOAWAY; a second one in a row counts as a failed attempt
///   (TRANSIENT_FAILURE), so calls cannot drive a reconnect per call to a server that
///   sends GOAWAY on every connection.
///
/// ```swift
/// var machine = EndpointStateMachine(backoff: options.backoff, resetBackoffAfterMs: 5000)
/// if case .connect = machine.start() { openSocket() }
/// machine.connected(nowMs: now)             // SETTINGS received
/// switch machine.goAway(nowMs: now) { ... } // .connect or .scheduleRetry(delayMs:)
/// ```
package struct EndpointStateMachine: Sendable {
    /// What the owner must do after an event.
    package enum Action: Equatable, Sendable {
        /// Open a new connection now (and cancel a pending retry timer, if any).
        case connect
        /// Wait this many milliseconds, then call `retryTimerFired()`.
        case scheduleRetry(delayMs: Int64)
        /// Nothing to do.
        case none
    }

    package private(set) var state: ConnectivityState = .idle
    /// True once an attempt failed since the endpoint was last READY ("sticky"
    /// TRANSIENT_FAILURE: a reconnecting endpoint that keeps failing still counts as failing).
    /// A connection lost soon after READY counts as a failed attempt; a GOAWAY does not.
    package private(set) var failingSinceReady = false
    /// How long a connection must stay READY before its loss resets the backoff
    /// (0: every READY connection counts as healthy, as in plain gRPC backoff).
    package let resetBackoffAfterMs: Int64
    private var backoff: ConnectionBackoff
    private let random: @Sendable () -> Double
    /// When the current connection became READY.
    private var readySinceMs: Int64 = 0
    /// True once the endpoint has started (IDLE after `start()` means: waiting to reconnect).
    private var started = false
    /// A `.scheduleRetry` is outstanding; only then does `retryTimerFired()` act.
    private var retryPending = false
    /// Connections in a row that ended (loss or GOAWAY) before proving healthy.
    private var earlyEnds = 0
    /// The current connection answered a call: it is healthy whatever its age (a
    /// server with a short max connection age is not a server that refuses work).
    private var servedCall = false

    package init(backoff: ConnectionBackoff, resetBackoffAfterMs: Int64 = 5000,
                 random: @escaping @Sendable () -> Double = { Double.random(in: -1...1) }) {
        self.backoff = backoff
        self.resetBackoffAfterMs = max(0, resetBackoffAfterMs)
        self.random = random
    }

    /// The endpoint joined the channel.
    package mutating func start() -> Action {
        guard !started else { return .none }
        started = true
        return connectNow()
    }

    /// The HTTP/2 connection is usable (server SETTINGS received) at `nowMs`. The
    /// backoff is not reset yet: that waits until the connection proved healthy.
    package mutating func connected(nowMs: Int64) {
        state = .ready
        failingSinceReady = false
        readySinceMs = nowMs
        servedCall = false
    }

    /// The current connection answered a call (the server sent its response headers):
    /// it proved healthy, so its loss or GOAWAY resets the backoff and replaces it at once.
    package mutating func callCompleted() {
        if state == .ready { servedCall = true }
    }

    /// The connection attempt failed or timed out.
    package mutating func connectFailed() -> Action {
        guard state == .connecting else { return .none }
        state = .transientFailure
        failingSinceReady = true
        return scheduleRetry()
    }

    /// An established connection was lost (socket error, EOF) at `nowMs`.
    package mutating func connectionLost(nowMs: Int64) -> Action {
        guard state == .ready else { return connectFailed() }
        if provedHealthy(nowMs: nowMs) {
            earlyEnds = 0
            backoff.reset()
            return connectNow()
        }
        earlyEnds += 1
        state = .transientFailure
        failingSinceReady = true
        return scheduleRetry()
    }

    /// The established connection was declared dead (its peer left a keepalive PING
    /// unanswered): whatever its age, a failed attempt — TRANSIENT_FAILURE, reconnect
    /// after the next backoff (not reset), so a frozen or unreachable server is not
    /// reconnected in a tight loop.
    package mutating func peerUnresponsive() -> Action {
        guard state == .ready else { return connectFailed() }
        state = .transientFailure
        failingSinceReady = true
        return scheduleRetry()
    }

    /// The server sent GOAWAY at `nowMs`: the old connection drains; a healthy one is
    /// replaced now, an early one after the next backoff (IDLE until then, or
    /// TRANSIENT_FAILURE if the previous connection ended early too).
    package mutating func goAway(nowMs: Int64) -> Action {
        guard state == .ready else { return .none }
        if provedHealthy(nowMs: nowMs) {
            earlyEnds = 0
            backoff.reset()
            return connectNow()
        }
        earlyEnds += 1
        if earlyEnds == 1 {
            state = .idle
        } else {
            state = .transientFailure
            failingSinceReady = true
        }
        return scheduleRetry()
    }

    /// Calls are waiting and no endpoint is READY: an endpoint left IDLE by an early
    /// GOAWAY reconnects now instead of at the end of its backoff. Failing endpoints
    /// (TRANSIENT_FAILURE) keep their backoff.
    package mutating func requestConnection() -> Action {
        guard started, state == .idle else { return .none }
        return connectNow()
    }

    /// The backoff timer expired.
    package mutating func retryTimerFired() -> Action {
        guard retryPending, state == .transientFailure || state == .idle else { return .none }
        return connectNow()
    }

    /// Served a call, or READY for at least `resetBackoffAfterMs` by `nowMs`.
    private func provedHealthy(nowMs: Int64) -> Bool {
        servedCall || nowMs - readySinceMs >= resetBackoffAfterMs
    }

    private mutating func connectNow() -> Action {
        state = .connecting
        retryPending = false
        return .connect
    }

    private mutating func scheduleRetry() -> Action {
        retryPending = true
        return .scheduleRetry(delayMs: backoff.nextDelayMs(random: random))
    }
}
