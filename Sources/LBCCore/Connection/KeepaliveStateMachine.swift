/// Client-side keepalive of one HTTP/2 connection (gRFC A8), without I/O or a clock.
///
/// The owner (the connection) keeps at most ONE timer and feeds the machine the
/// monotonic time in nanoseconds with every event; each event returns the ``Action``
/// to carry out. The rules:
///
/// - **Ping due** `keepalive time` after the last byte read from the peer (A8's
///   preferred measure: a busy connection that keeps receiving is never pinged, and
///   the timer is re-armed lazily when it fires, not on every read). It is never
///   measured from the last PING *sent*, so a server whose minimum ping interval
///   equals our time does not count strikes.
/// - **Ping outstanding**: after a PING the peer has `keepalive timeout` to answer.
///   Any byte read counts as a sign of life (A8: the timeout is the time "between
///   sending a PING and not receiving any bytes"), so the deadline moves to the last
///   read + timeout while the ACK is awaited; the ACK itself ends the wait and
///   schedules the next PING `keepalive time` after it.
/// - **Peer dead**: the deadline passed with nothing read: ``Action/declareDead``
///   (the owner closes the connection; its calls end UNAVAILABLE).
/// - **Without calls**: unless `permitWithoutCalls`, a connection with no open stream
///   sends no PING and holds no timer (``State/idle``, A8's default); the first new
///   stream re-arms it, with a PING at once when the last read is older than the
///   keepalive time (A8: detect a broken idle connection within the timeout, before
///   the new call's HEADERS).
///
/// Choice against gRPC C-core: C-core sends a PING every keepalive time whatever was
/// read in between; this machine follows A8's text (time since the last read), which
/// sends fewer PINGs on busy connections and detects a silent peer as fast
/// (`keepalive time + keepalive timeout` after its last byte).
///
/// ```swift
/// var keepalive = KeepaliveStateMachine(policy: policy)
/// perform(keepalive.start(nowNs: now, hasStreams: false))     // SETTINGS arrived
/// keepalive.receivedBytes(nowNs: now)                         // on every read
/// perform(keepalive.timerFired(nowNs: now, hasStreams: true)) // .sendPing(timeoutAtNs:)
/// perform(keepalive.pingAcknowledged(nowNs: now))             // .armTimer(atNs:)
/// ```
package struct KeepaliveStateMachine: Sendable {
    /// What the owner must do after an event.
    package enum Action: Equatable, Sendable {
        /// Nothing to do.
        case none
        /// (Re)arm the single timer for this monotonic time, replacing any armed one;
        /// call ``timerFired(nowNs:hasStreams:)`` when it expires.
        case armTimer(atNs: Int64)
        /// Send a PING now and arm the timer for `timeoutAtNs`; report its ACK with
        /// ``pingAcknowledged(nowNs:)``.
        case sendPing(timeoutAtNs: Int64)
        /// No PING ACK and nothing read within the timeout: close the connection (its
        /// calls end UNAVAILABLE). The machine does nothing more.
        case declareDead
    }

    /// Where the connection is in the keepalive cycle.
    package enum State: Equatable, Sendable {
        /// Before ``start(nowNs:hasStreams:)`` (the connection is not READY yet).
        case notStarted
        /// No open stream and PINGs without calls not permitted: no timer.
        case idle
        /// The next PING is due at this time unless something is read before.
        case waiting(pingAtNs: Int64)
        /// A PING went out at this time and is not acknowledged yet.
        case pingOutstanding(sentAtNs: Int64)
        /// ``Action/declareDead`` was returned.
        case dead
        /// The connection closed (``stop()``).
        case stopped
    }

    package private(set) var state: State = .notStarted
    /// Keepalive time: the wait after the last read before a PING, in milliseconds.
    package let timeMs: Int64
    /// Keepalive timeout: how long a PING may go unanswered, in milliseconds.
    package let timeoutMs: Int64
    /// PINGs are sent when the connection has no open stream too.
    package let permitWithoutCalls: Bool
    private let timeNs: Int64
    private let timeoutNs: Int64
    /// When the last byte was read from the peer.
    package private(set) var lastReadNs: Int64 = 0
    /// PINGs sent.
    package private(set) var pingsSent = 0
    /// PING ACKs received.
    package private(set) var pingsAcknowledged = 0
    /// The round-trip time of the last acknowledged PING, nil before the first ACK.
    package private(set) var lastRoundTripNs: Int64? = nil

    /// Durations below 1 ms are treated as 1 ms (``ChannelOptions`` rejects such values).
    package init(timeMs: Int64, timeoutMs: Int64, permitWithoutCalls: Bool) {
        self.timeMs = max(1, timeMs)
        self.timeoutMs = max(1, timeoutMs)
        self.permitWithoutCalls = permitWithoutCalls
        self.timeNs = Self.nanoseconds(self.timeMs)
        self.timeoutNs = Self.nanoseconds(self.timeoutMs)
    }

    /// For a new connection of a channel with `policy` (its current, possibly doubled, time).
    package init(policy: KeepalivePolicy) {
        self.init(timeMs: policy.timeMs, timeoutMs: policy.timeoutMs, permitWithoutCalls: policy.permitWithoutCalls)
    }

    /// True once ``Action/declareDead`` was returned.
    package var isDead: Bool { state == .dead }

    /// The connection became READY at `nowNs` (the server's SETTINGS count as the
    /// last read). Arms the timer when it has streams or PINGs without calls are
    /// permitted; otherwise `.none` (idle).
    package mutating func start(nowNs: Int64, hasStreams: Bool) -> Action {
        guard state == .notStarted else { return .none }
        lastReadNs = nowNs
        guard hasStreams || permitWithoutCalls else {
            state = .idle
            return .none
        }
        return wait(until: Self.adding(nowNs, timeNs))
    }

    /// Bytes arrived from the peer at `nowNs`. No action: the armed timer re-checks
    /// when it fires.
    @inline(__always)
    package mutating func receivedBytes(nowNs: Int64) {
        lastReadNs = nowNs
    }

    /// The timer expired. `hasStreams`: the connection has open (or queued) streams.
    ///
    /// - waiting: `.none` and idle when there are no streams and PINGs without calls are
    ///   not permitted; re-armed for the last read + time when something was read
    ///   since; else `.sendPing`.
    /// - PING outstanding: re-armed for the last read + timeout when something was
    ///   read after the PING; else `.declareDead`.
    /// - otherwise (idle, dead, stopped, a stale timer): `.none`.
    package mutating func timerFired(nowNs: Int64, hasStreams: Bool) -> Action {
        switch state {
        case .waiting:
            guard hasStreams || permitWithoutCalls else {
                state = .idle
                return .none
            }
            let due = Self.adding(lastReadNs, timeNs)
            if nowNs < due { return wait(until: due) }
            return ping(nowNs)
        case .pingOutstanding(let sentAtNs):
            let deadline = Self.adding(max(sentAtNs, lastReadNs), timeoutNs)
            if nowNs < deadline { return .armTimer(atNs: deadline) }
            state = .dead
            return .declareDead
        case .notStarted, .idle, .dead, .stopped:
            return .none
        }
    }

    /// A PING ACK arrived at `nowNs`: records the round trip and schedules the next
    /// PING one keepalive time later. `.none` when no PING is outstanding.
    package mutating func pingAcknowledged(nowNs: Int64) -> Action {
        guard case .pingOutstanding(let sentAtNs) = state else { return .none }
        lastReadNs = nowNs
        pingsAcknowledged += 1
        lastRoundTripNs = max(0, nowNs - sentAtNs)
        return wait(until: Self.adding(nowNs, timeNs))
    }

    /// A stream is about to open at `nowNs`. Acts only when idle: `.sendPing` when
    /// the last read is at least one keepalive time old (the PING goes out before the
    /// stream's HEADERS), else the timer is armed for the last read + time.
    package mutating func streamStarted(nowNs: Int64) -> Action {
        guard state == .idle else { return .none }
        let due = Self.adding(lastReadNs, timeNs)
        if nowNs >= due { return ping(nowNs) }
        return wait(until: due)
    }

    /// The connection closed: nothing more happens (the owner cancels its timer).
    package mutating func stop() {
        if state != .dead { state = .stopped }
    }

    private mutating func wait(until atNs: Int64) -> Action {
        state = .waiting(pingAtNs: atNs)
        return .armTimer(atNs: atNs)
    }

    private mutating func ping(_ nowNs: Int64) -> Action {
        state = .pingOutstanding(sentAtNs: nowNs)
        pingsSent += 1
        return .sendPing(timeoutAtNs: Self.adding(nowNs, timeoutNs))
    }

    /// `ms` in nanoseconds, saturating.
    private static func nanoseconds(_ ms: Int64) -> Int64 {
        let (ns, overflow) = ms.multipliedReportingOverflow(by: 1_000_000)
        return overflow ? Int64.max : ns
    }

    /// `base + delay`, saturating instead of trapping.
    private static func adding(_ base: Int64, _ delay: Int64) -> Int64 {
        let (sum, overflow) = base.addingReportingOverflow(delay)
        return overflow ? Int64.max : sum
    }
}
