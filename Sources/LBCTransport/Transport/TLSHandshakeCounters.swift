/// An endpoint's TLS handshake figures: kept by its ``TLSEndpointSession`` and copied
/// whole into a stats snapshot (the "tls" object) on the loop thread.
package struct TLSHandshakeCounters {
    package var fullHandshakes = 0
    package var resumedHandshakes = 0
    /// Handshake duration of the last connection with a full and with a resumed
    /// handshake that became READY (ns; 0 = none yet): a pair with the READY times below.
    package var lastFullNs: Int64 = 0
    package var lastResumedNs: Int64 = 0
    /// Time from the start of the TCP connect to READY (the server's SETTINGS) of the
    /// last connection with a full and with a resumed handshake (ns; 0 = none yet).
    package var lastFullReadyNs: Int64 = 0
    package var lastResumedReadyNs: Int64 = 0
    /// Sums of all full and resumed handshake durations (ns), for the means.
    package var totalFullNs: Int64 = 0
    package var totalResumedNs: Int64 = 0
}
