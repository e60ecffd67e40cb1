/// What went wrong on a TLS connection, as gathered by the transport from OpenSSL,
/// turned into a message that names the cause. No I/O: the transport fills it in.
///
/// ```swift
/// let failure = TLSFailure(reason: "certificate verify failed", verifyError: "certificate has expired")
/// failure.message(peer: "127.0.0.2:443", serverName: "svc.test", duringHandshake: true)
/// // TLS handshake with 127.0.0.2:443 failed: certificate verify failed: certificate has expired
/// // (verifying the certificate of "svc.test")
/// ```
package struct TLSFailure: Equatable, Sendable {
    /// What the peer's first bytes looked like.
    package enum PeerBytes: Equatable, Sendable {
        /// Nothing received yet.
        case none
        /// A TLS record header (handshake or alert).
        case tls
        /// Bytes that are not TLS (e.g. a plaintext HTTP/2 server's SETTINGS or GOAWAY).
        case notTLS
    }

    /// OpenSSL's reason string of the first error in its queue (e.g. "certificate verify
    /// failed", "sslv3 alert handshake failure"), or the system error text.
    package var reason: String?
    /// The certificate verification result text when verification failed
    /// (X509_verify_cert_error_string, e.g. "Hostname mismatch").
    package var verifyError: String?
    /// What the peer sent first.
    package var peerBytes: PeerBytes
    /// The peer closed the TCP connection.
    package var endOfStream: Bool

    /// Creates a failure description.
    package init(reason: String? = nil, verifyError: String? = nil, peerBytes: PeerBytes = .tls, endOfStream: Bool = false) {
        self.reason = reason
        self.verifyError = verifyError
        self.peerBytes = peerBytes
        self.endOfStream = endOfStream
    }

    /// Classifies the first bytes a TLS client receives: a TLS record starts with a
    /// content type 20...23 and major version 3.
    package static func classify(firstBytes bytes: some Collection<UInt8>) -> PeerBytes {
        var it = bytes.makeIterator()
        guard let type = it.next() else { return .none }
        guard (20...23).contains(type) else { return .notTLS }
        guard let major = it.next() else { return .tls }
        return major == 3 ? .tls : .notTLS
    }

    /// True for the alerts a server sends when it refuses the client's certificate
    /// (or the lack of one).
    package var isClientCertificateRejection: Bool {
        guard let r = reason?.lowercased(), r.contains("alert") else { return false }
        return r.contains("certificate required") || r.contains("unknown ca") || r.contains("bad certificate")
            || r.contains("certificate unknown") || r.contains("unsupported certificate")
            || r.contains("certificate revoked") || r.contains("certificate expired")
            || r.contains("access denied")
    }

    /// What the client did about a client certificate during the handshake.
    package enum ClientCertificate: Equatable, Sendable {
        /// The server did not ask for one (none was configured).
        case notRequested
        /// The server asked for one and none is configured.
        case requestedButMissing
        /// A client certificate is configured (and was sent when asked for).
        case configured
    }

    /// The message when the server closes the connection right after the handshake,
    /// before HTTP/2 starts. Servers that refuse a client certificate often close
    /// without a TLS alert (gRPC's servers do), so the client certificate situation
    /// is the best clue.
    package static func closedAfterHandshakeMessage(peer: String, clientCertificate: ClientCertificate) -> String {
        let head = "\(peer) closed the connection right after the TLS handshake, before HTTP/2 started"
        switch clientCertificate {
        case .requestedButMissing:
            return "\(head): the server rejected the client certificate: it asked for one and none is configured"
                + " (tls_cert_file/tls_key_file or tls_cert_pem/tls_key_pem)"
        case .configured:
            return "\(head): the server rejected the client certificate (not signed by a CA it trusts, or not"
                + " acceptable to it)"
        case .notRequested:
            return head
        }
    }

    /// The message for logs, RPC statuses and the endpoint's last error.
    package func message(peer: String, serverName: String, duringHandshake: Bool) -> String {
        let head = duringHandshake ? "TLS handshake with \(peer) failed" : "TLS error on the connection to \(peer)"
        if peerBytes == .notTLS {
            return "\(head): the server did not answer with TLS (a plaintext server on a TLS channel?)"
                + (reason.map { " [\($0)]" } ?? "")
        }
        if endOfStream && peerBytes == .none {
            return "\(head): the server closed the connection without answering the TLS handshake"
                + " (a plaintext server on a TLS channel?)"
        }
        var text = head
        if let reason { text += ": \(reason)" }
        if let verifyError {
            text += ": \(verifyError) (verifying the certificate of \(ASCII.quoted(serverName)))"
        } else if isClientCertificateRejection {
            text += " (the server rejected the client certificate)"
        } else if endOfStream {
            text += reason == nil ? ": the server closed the connection" : " (the server closed the connection)"
        }
        return text
    }
}
