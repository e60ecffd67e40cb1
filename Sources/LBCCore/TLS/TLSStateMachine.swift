/// The TLS life cycle of one connection, without I/O: handshake, established,
/// shutting down, failed.
///
/// The transport runs OpenSSL and reports each step; the machine decides what happens
/// next (wait for the socket, report the connection established, fail with a message
/// naming the cause) and checks what the handshake negotiated (ALPN `h2` is required).
/// Time is injected so handshake durations are testable.
///
/// ```swift
/// var tls = TLSStateMachine(peer: "127.0.0.2:443", serverName: "svc.test")
/// _ = tls.startHandshake(nowNs: now)
/// switch tls.handshakeStepped(.complete(alpn: "h2", resumed: false), nowNs: now) {
/// case .established: startHTTP2()
/// case .fail(let message): close(message)
/// default: break
/// }
/// ```
package struct TLSStateMachine: Sendable {
    /// Where the connection is.
    package enum State: Equatable, Sendable {
        /// Created; the handshake has not started.
        case idle
        /// ClientHello sent, waiting for the server.
        case handshaking
        /// Application data flows.
        case established
        /// close_notify sent or received: no more application data.
        case shuttingDown
        /// Failed with this message; nothing more flows.
        case failed(String)
    }

    /// The result of one call into OpenSSL's handshake.
    package enum HandshakeStep: Equatable, Sendable {
        /// Needs bytes from the server.
        case wantRead
        /// Needs the socket to take more bytes.
        case wantWrite
        /// Done: the ALPN protocol the server selected (nil for none) and whether the
        /// session was resumed.
        case complete(alpn: String?, resumed: Bool)
        /// The handshake failed.
        case failed(TLSFailure)
    }

    /// What the owner must do after an event.
    package enum Action: Equatable, Sendable {
        /// Nothing.
        case none
        /// Wait until the socket is readable, then step the handshake again.
        case waitForReadable
        /// Wait until the socket is writable, then step the handshake again.
        case waitForWritable
        /// The handshake finished after `handshakeNs`; start HTTP/2.
        case established(handshakeNs: Int64, resumed: Bool)
        /// Close the connection with this message.
        case fail(String)
        /// Send close_notify (best effort), then close.
        case sendCloseNotify
    }

    package private(set) var state: State = .idle
    /// The endpoint, for messages ("127.0.0.2:443").
    package let peer: String
    /// The name the certificate must carry (SNI and verification).
    package let serverName: String
    private var startedNs: Int64 = 0
    /// Duration of the completed handshake (nil before).
    package private(set) var handshakeNs: Int64?
    /// Whether the completed handshake resumed an earlier session.
    package private(set) var resumed = false

    /// A machine for a connection to `peer` verifying `serverName`.
    package init(peer: String, serverName: String) {
        self.peer = peer
        self.serverName = serverName
    }

    /// The TCP connection is up: start the handshake (the owner steps it at once).
    package mutating func startHandshake(nowNs: Int64) -> Action {
        guard state == .idle else { return .none }
        state = .handshaking
        startedNs = nowNs
        return .none
    }

    /// OpenSSL returned from a handshake step.
    package mutating func handshakeStepped(_ step: HandshakeStep, nowNs: Int64) -> Action {
        guard state == .handshaking else { return .none }
        switch step {
        case .wantRead:
            return .waitForReadable
        case .wantWrite:
            return .waitForWritable
        case .failed(let failure):
            return fail(failure.message(peer: peer, serverName: serverName, duringHandshake: true))
        case .complete(let alpn, let resumed):
            guard alpn == "h2" else {
                let selected = alpn.map { ASCII.quoted($0) } ?? "none"
                return fail("TLS handshake with \(peer): the server did not select the ALPN protocol \"h2\""
                    + " (selected: \(selected)); gRPC needs HTTP/2 over TLS")
            }
            state = .established
            let duration = max(nowNs - startedNs, 0)
            handshakeNs = duration
            self.resumed = resumed
            return .established(handshakeNs: duration, resumed: resumed)
        }
    }

    /// Reading or writing application data failed (a TLS alert, a bad record).
    package mutating func transferFailed(_ failure: TLSFailure) -> Action {
        switch state {
        case .established, .shuttingDown:
            return fail(failure.message(peer: peer, serverName: serverName, duringHandshake: false))
        case .handshaking:
            return handshakeStepped(.failed(failure), nowNs: startedNs)
        case .idle, .failed:
            return .none
        }
    }

    /// The server sent close_notify.
    package mutating func peerClosed() {
        if state == .established { state = .shuttingDown }
    }

    /// The owner closes the connection: an established session says goodbye.
    package mutating func close() -> Action {
        switch state {
        case .established:
            state = .shuttingDown
            return .sendCloseNotify
        case .idle, .handshaking:
            state = .failed("closed")
            return .none
        case .shuttingDown, .failed:
            return .none
        }
    }

    private mutating func fail(_ message: String) -> Action {
        state = .failed(message)
        return .fail(message)
    }
}
