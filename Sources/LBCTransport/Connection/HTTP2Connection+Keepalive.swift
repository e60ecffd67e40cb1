import CNGHTTP2
import LBCCore

/// Keepalive PINGs (gRFC A8): the connection drives its ``KeepaliveStateMachine``
/// with one loop timer, sends PINGs with `nghttp2_submit_ping`, reports their ACKs
/// (`NGHTTP2Callbacks.onFrame`) and every read, and closes itself when the machine
/// declares the peer dead. Nothing of this exists when the configuration has no
/// keepalive: no machine, no timer, one nil test per read and per new stream.
extension HTTP2Connection {
    /// The connection became READY: start the keepalive cycle (when configured).
    func startKeepalive() {
        guard let policy = configuration.keepalive, policy.isEnabled else { return }
        var machine = KeepaliveStateMachine(policy: policy)
        let action = machine.start(nowNs: EventLoop.now(), hasStreams: hasOpenStreams)
        keepalive = machine
        configuration.keepaliveStats?.counters.timeMs = machine.timeMs
        carryKeepalive(action)
    }

    /// True when the keepalive machine declared the peer dead (the connection closed
    /// for that reason; the owner treats it as a failed connection).
    package var keepaliveDeclaredDead: Bool { keepalive?.isDead ?? false }

    /// The keepalive time this connection pings with, nil without keepalive.
    package var keepaliveTimeMs: Int64? { keepalive?.timeMs ?? configuration.keepalive?.timeMs }

    /// The server sent GOAWAY "too_many_pings" (from `NGHTTP2Callbacks.onFrame`).
    func receivedTooManyPings() {
        configuration.keepaliveStats?.counters.tooManyPings += 1
        delegate?.connectionReceivedTooManyPings(self)
    }

    /// Streams open or waiting for a slot.
    private var hasOpenStreams: Bool { !streams.isEmpty || !queued.isEmpty }

    /// A PING ACK arrived (from `NGHTTP2Callbacks.onFrame`).
    func receivedPingAck() {
        guard keepalive != nil else { return }
        let now = EventLoop.now()
        let action = keepalive!.pingAcknowledged(nowNs: now)
        if action != .none, let stats = configuration.keepaliveStats {
            stats.counters.pingsAcknowledged += 1
            stats.counters.lastRoundTripNs = keepalive!.lastRoundTripNs
        }
        carryKeepalive(action)
    }

    /// The first stream of an idle connection is about to open.
    func keepaliveStreamStarting() {
        guard keepalive != nil else { return }
        carryKeepalive(keepalive!.streamStarted(nowNs: EventLoop.now()))
    }

    /// The connection closes: no more timer.
    func stopKeepalive() {
        keepalive?.stop()
        if let t = keepaliveTimer {
            loop.cancelTimer(t)
            keepaliveTimer = nil
        }
    }

    private func carryKeepalive(_ action: KeepaliveStateMachine.Action) {
        switch action {
        case .none:
            break
        case .armTimer(let atNs):
            armKeepaliveTimer(atNs)
        case .sendPing(let timeoutAtNs):
            sendKeepalivePing()
            armKeepaliveTimer(timeoutAtNs)
        case .declareDead:
            let ms = keepalive?.timeoutMs ?? 0
            configuration.keepaliveStats?.counters.deadConnections += 1
            fail("keepalive: no PING ACK from \(address) within \(ms) ms")
        }
    }

    private func armKeepaliveTimer(_ atNs: Int64) {
        if let t = keepaliveTimer { loop.cancelTimer(t) }
        // The closure holds the connection until it fires or is cancelled (close cancels it).
        keepaliveTimer = loop.schedule(at: atNs) { [self] in
            keepaliveTimer = nil
            guard keepalive != nil, state != .closed else { return }
            carryKeepalive(keepalive!.timerFired(nowNs: EventLoop.now(), hasStreams: hasOpenStreams))
        }
    }

    private func sendKeepalivePing() {
        guard let s = session, state != .closed else { return }
        // Fails only without memory; the deadline runs all the same.
        guard nghttp2_submit_ping(s, UInt8(NGHTTP2_FLAG_NONE.rawValue), nil) == 0 else { return }
        configuration.keepaliveStats?.counters.pingsSent += 1
        requestFlush()
    }
}
