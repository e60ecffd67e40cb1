import COpenSSL

/// Per-endpoint TLS memory: the last resumable session (so a reconnect can skip the
/// full handshake) and handshake counters for the stats JSON. Loop thread only.
package final class TLSEndpointSession {
    private var session: OpaquePointer?
    private var sessionGeneration: UInt64 = 0
    /// Whether sessions are kept at all (`tls_session_resumption`).
    package var enabled = true

    /// Handshake counts and durations for the stats JSON.
    package private(set) var counters = TLSHandshakeCounters()

    /// An empty slot.
    package init() {}

    deinit { if let session { SSL_SESSION_free(session) } }

    /// Keep `newSession` (owned: this slot frees it) from a context of `generation`.
    func store(_ newSession: OpaquePointer, generation: UInt64) {
        guard enabled else {
            SSL_SESSION_free(newSession)
            return
        }
        if let session { SSL_SESSION_free(session) }
        session = newSession
        sessionGeneration = generation
    }

    /// The session to offer on a new connection with a context of `generation`
    /// (borrowed; SSL_set_session takes its own reference).
    func session(for generation: UInt64) -> OpaquePointer? {
        guard enabled, let session, sessionGeneration == generation else { return nil }
        return session
    }

    /// Forget the session (after a failed handshake, or when the context changed).
    func forget() {
        if let session { SSL_SESSION_free(session) }
        session = nil
    }

    /// A TLS connection became READY `ns` after its TCP connect started, its handshake
    /// having taken `handshakeNs`: the pair becomes the "last" figures together, so a
    /// snapshot never shows one connection's handshake beside another's READY time.
    func recordReady(ns: Int64, handshakeNs: Int64, resumed: Bool) {
        if resumed {
            counters.lastResumedReadyNs = ns
            counters.lastResumedNs = handshakeNs
        } else {
            counters.lastFullReadyNs = ns
            counters.lastFullNs = handshakeNs
        }
    }

    /// Count a completed handshake (the "last" durations wait for its READY).
    func record(handshakeNs: Int64, resumed: Bool) {
        if resumed {
            counters.resumedHandshakes += 1
            counters.totalResumedNs += handshakeNs
        } else {
            counters.fullHandshakes += 1
            counters.totalFullNs += handshakeNs
        }
    }
}
