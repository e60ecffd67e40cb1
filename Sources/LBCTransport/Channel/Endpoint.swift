import LBCCore

/// One backend of a channel: its connection life cycle and counters. Loop thread only.
package final class Endpoint {
    package let address: EndpointAddress
    /// `address.description`, computed once (it is every response's peer).
    let addressText: CString
    var machine: EndpointStateMachine
    /// The connection new RPCs go to (connecting or ready).
    var connection: HTTP2Connection?
    /// Connections that received GOAWAY and finish their streams.
    var draining: [HTTP2Connection] = []
    var retryTimer: ClosureTimer?
    var lastError: String?
    /// Removed from the endpoint set: takes no new RPCs, never reconnects.
    var retired = false
    /// TLS session cache and handshake counters (TLS channels only, made on first connect).
    var tlsSession: TLSEndpointSession?

    var inFlight = 0
    var callsStarted = 0
    var callsFailed = 0
    var connectFailures = 0
    /// Exponentially weighted moving average of RPC latency (µs), 0 before the first.
    var latencyEWMAMicros = 0.0

    /// Fold one finished RPC's latency into the average (weight 0.1 for the newest).
    func recordLatency(ns: Int64) {
        let micros = Double(ns) / 1000
        latencyEWMAMicros = latencyEWMAMicros == 0 ? micros : latencyEWMAMicros * 0.9 + micros * 0.1
    }

    init(address: EndpointAddress, backoff: ConnectionBackoff, resetBackoffAfterMs: Int64) {
        self.address = address
        self.addressText = CString(address.description)
        self.machine = EndpointStateMachine(backoff: backoff, resetBackoffAfterMs: resetBackoffAfterMs)
    }

    /// READY with a connection that accepts streams.
    var isReady: Bool {
        !retired && machine.state == .ready && (connection?.hasCapacity ?? false)
    }

    /// Write what this endpoint's connections have queued.
    func flush() {
        connection?.flush()
        if !draining.isEmpty {
            for c in draining { c.flush() }
        }
    }
}
