/// grpc.health.v1 health checking of one endpoint (gRFC A17), without I/O: when to
/// open the `Health/Watch` stream on the endpoint's connection, what its messages and
/// its end mean, and when to re-open it.
///
/// - A READY connection opens a watch stream; the health is ``EndpointHealth/pending``
///   (not pickable, but not failing: calls wait) until the first answer.
/// - Each HealthCheckResponse sets the health: SERVING is healthy, anything else
///   (NOT_SERVING, SERVICE_UNKNOWN, UNKNOWN, unknown values) is not.
/// - The stream ending UNIMPLEMENTED means the server has no health service: the
///   endpoint is treated as healthy and not checked again on this connection (a new
///   connection asks again). The owner logs it the first time (``Action/logUnimplemented``).
/// - Any other end (including OK) is a failure: the health becomes
///   ``EndpointHealth/failed`` (as C-core's TRANSIENT_FAILURE) and the stream is re-opened
///   after the next backoff delay — at once, with the backoff reset, when the stream
///   had delivered an answer (it worked; the server ended it, e.g. a restart of the
///   health service). While it re-opens the health is ``EndpointHealth/pending``:
///   calls wait for the first answer again rather than go to an endpoint whose health
///   is unknown.
/// - A malformed answer is a failure of the stream: the owner cancels it and the
///   stream's end schedules the re-open with backoff.
/// - The connection going away (lost, GOAWAY, endpoint removed) stops everything; the
///   health is ``EndpointHealth/pending`` until the next connection's first answer.
///
/// ```swift
/// var health = HealthCheckStateMachine(backoff: options.backoff)
/// if case .startWatch = health.connectionReady() { openWatchStream() }
/// health.received(servingStatus: 1)          // health == .serving
/// switch health.streamEnded(.unavailable) {  // .scheduleRetry(delayMs: ~1000)
/// ...
/// }
/// ```
package struct HealthCheckStateMachine: Sendable {
    /// What the owner must do after an event.
    package enum Action: Equatable, Sendable {
        case none
        /// Open a watch stream on the endpoint's current connection.
        case startWatch
        /// Wait this long, then call ``retryTimerFired()``.
        case scheduleRetry(delayMs: Int64)
        /// Cancel the open watch stream (its end is then ignored).
        case cancelWatch
        /// Cancel the pending retry timer.
        case cancelRetry
        /// The server has no health service: log it (once per endpoint).
        case logUnimplemented
    }

    /// Where the watch is.
    package enum Phase: Equatable, Sendable {
        /// No READY connection.
        case idle
        /// A watch stream is open (or being opened).
        case watching
        /// Waiting for the retry timer after a failed stream.
        case backingOff
        /// The server has no health service (until the connection goes).
        case unimplemented
    }

    package private(set) var health: EndpointHealth = .pending
    package private(set) var phase: Phase = .idle
    /// The current stream has delivered at least one answer.
    package private(set) var answered = false
    /// UNIMPLEMENTED was seen (and logged) once for this endpoint.
    package private(set) var reportedUnimplemented = false
    private var backoff: ConnectionBackoff
    private let random: @Sendable () -> Double

    /// `backoff` spaces the re-opens of failed watch streams; `random` is its jitter
    /// source (-1...1).
    package init(backoff: ConnectionBackoff, random: @escaping @Sendable () -> Double = { Double.random(in: -1.0...1.0) }) {
        self.backoff = backoff
        self.random = random
    }

    /// The endpoint's connection became READY: watch its health. (The previous
    /// connection's ``connectionGone()`` came first, so no stream or timer is left;
    /// the owner cancels a retry timer it still holds before it opens the stream.)
    package mutating func connectionReady() -> Action {
        phase = .watching
        answered = false
        health = .pending
        return .startWatch
    }

    /// The endpoint's connection went away (lost, GOAWAY, endpoint removed): stop
    /// watching until the next one is READY.
    package mutating func connectionGone() -> Action {
        let previous = phase
        phase = .idle
        answered = false
        health = .pending
        switch previous {
        case .watching: return .cancelWatch
        case .backingOff: return .cancelRetry
        case .idle, .unimplemented: return .none
        }
    }

    /// A HealthCheckResponse arrived with this status value.
    package mutating func received(servingStatus: Int32) {
        guard phase == .watching else { return }
        if !answered {
            answered = true
            backoff.reset()
        }
        health = EndpointHealth(servingStatus: servingStatus)
    }

    /// A message that is no HealthCheckResponse arrived: the owner cancels the stream
    /// (``Action/cancelWatch``) and its end schedules a re-open with backoff.
    package mutating func receivedMalformed() -> Action {
        guard phase == .watching else { return .none }
        answered = false  // no immediate re-open for a stream that talks nonsense
        health = .failed
        return .cancelWatch
    }

    /// The watch stream ended with `status` (ends after ``connectionGone()`` or
    /// ``Action/cancelWatch`` for other reasons than a malformed answer are ignored).
    package mutating func streamEnded(_ status: StatusCode) -> Action {
        guard phase == .watching else { return .none }
        if status == .unimplemented {
            phase = .unimplemented
            health = .unimplemented
            if reportedUnimplemented { return .none }
            reportedUnimplemented = true
            return .logUnimplemented
        }
        if answered {
            answered = false
            health = .pending
            return .startWatch
        }
        phase = .backingOff
        health = .failed
        return .scheduleRetry(delayMs: backoff.nextDelayMs(random: random))
    }

    /// The retry timer fired: open the watch again.
    package mutating func retryTimerFired() -> Action {
        guard phase == .backingOff else { return .none }
        phase = .watching
        health = .pending
        return .startWatch
    }
}
