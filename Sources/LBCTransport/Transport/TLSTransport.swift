import CLBCShim
import COpenSSL
import Glibc
import LBCCore

/// TLS over the connection's socket: OpenSSL with two memory BIOs, so this type does
/// every syscall itself (non-blocking, on the loop thread) and a flush of any size is
/// encrypted into one buffer and sent with one `send`. The TLS state lives in a
/// ``TLSStateMachine``; this type only runs OpenSSL and moves bytes.
///
/// ```swift
/// let tls = try TLSTransport(fd: fd, connector: connector, peer: "127.0.0.2:443")
/// switch tls.setUp(nowNs: EventLoop.now()) { case .ready: startHTTP2() ... }
/// ```
package final class TLSTransport: ByteTransport {
    private let fd: Int32
    private let ssl: OpaquePointer
    private let rbio: OpaquePointer
    private let wbio: OpaquePointer
    private let connector: TLSConnector
    package private(set) var machine: TLSStateMachine
    /// Ciphertext read from the socket before OpenSSL takes it.
    private let cipher = UnsafeMutableRawBufferPointer.allocate(byteCount: 32 << 10, alignment: 16)
    private var peerBytes: TLSFailure.PeerBytes = .none
    /// The last socket read came back short: the socket is empty until epoll says
    /// otherwise (level-triggered), so the next "want read" ends the round without
    /// another read syscall.
    private var socketDrained = false
    /// Records are waiting in the output BIO for the socket (it was full).
    private var outputPending = false
    /// The server asked for a client certificate and none was configured.
    private var certificateRequestedButMissing = false

    /// A TLS client on the connected socket `fd` (owned by the connection).
    package init(fd: Int32, connector: TLSConnector, peer: String) throws(TransportError) {
        self.fd = fd
        self.connector = connector
        machine = TLSStateMachine(peer: peer, serverName: connector.serverName)
        guard let ssl = connector.context.makeSSL() else {
            cipher.deallocate()
            throw TransportError("SSL_new failed: \(TLSContext.takeErrorReason() ?? "out of memory")")
        }
        self.ssl = ssl
        rbio = BIO_new(BIO_s_mem())
        wbio = BIO_new(BIO_s_mem())
        lbcshim_bio_set_mem_eof_retry(rbio)
        lbcshim_bio_set_mem_eof_retry(wbio)
        SSL_set_bio(ssl, rbio, wbio)  // ssl owns both BIOs now
        SSL_set_connect_state(ssl)
        let name = connector.serverName
        let isIP = TLSTransport.isIPAddress(name)
        if !isIP { _ = lbcshim_ssl_set_sni(ssl, name) }  // SNI never carries an IP address
        guard lbcshim_ssl_set_verify_name(ssl, name, isIP ? 1 : 0) == 1 else {
            let reason = TLSContext.takeErrorReason() ?? "invalid name"
            SSL_free(ssl)
            cipher.deallocate()
            throw TransportError("TLS: cannot verify against \(TLSContext.quote(name)): \(reason)")
        }
        if let session = connector.endpoint.session(for: connector.context.generation) {
            SSL_set_session(ssl, session)
        }
        SSL_set_ex_data(ssl, 0, Unmanaged.passUnretained(self).toOpaque())
        ERR_clear_error()  // the hot paths rely on an empty error queue
    }

    deinit {
        SSL_set_ex_data(ssl, 0, nil)
        SSL_free(ssl)
        cipher.deallocate()
    }

    /// The connection this transport carries became READY `ns` after its TCP connect
    /// started: recorded with the endpoint's handshake figures.
    package func connectionReady(afterNs ns: Int64) {
        connector.endpoint.recordReady(ns: ns, handshakeNs: machine.handshakeNs ?? 0, resumed: machine.resumed)
    }

    /// The handshake time and whether it resumed a session, once established.
    package var handshake: (ns: Int64, resumed: Bool)? {
        machine.handshakeNs.map { ($0, machine.resumed) }
    }

    // MARK: handshake

    package func setUp(nowNs: Int64) -> TransportSetup {
        if machine.state == .idle { _ = machine.startHandshake(nowNs: nowNs) }
        let step = stepHandshake()
        switch machine.handshakeStepped(step, nowNs: EventLoop.now()) {
        case .established(let ns, let resumed):
            connector.endpoint.record(handshakeNs: ns, resumed: resumed)
            return .ready
        case .waitForReadable:
            return .wantRead
        case .waitForWritable:
            return .wantWrite
        case .fail(let message):
            connector.endpoint.forget()
            return .failed(message)
        case .none, .sendCloseNotify:
            return .failed(stateMessage)
        }
    }

    private var stateMessage: String {
        if case .failed(let m) = machine.state { return m }
        return "TLS connection to \(machine.peer) is not usable"
    }

    private func stepHandshake() -> TLSStateMachine.HandshakeStep {
        while true {
            ERR_clear_error()
            let rc = SSL_do_handshake(ssl)
            let drained: Bool
            do {
                drained = try drainOutput()
            } catch {
                return .failed(TLSFailure(reason: error.message, peerBytes: peerBytes))
            }
            if rc == 1 {
                var proto: UnsafePointer<UInt8>?
                var length: UInt32 = 0
                SSL_get0_alpn_selected(ssl, &proto, &length)
                let alpn = proto.map { String(decoding: UnsafeBufferPointer(start: $0, count: Int(length)), as: UTF8.self) }
                return .complete(alpn: alpn, resumed: SSL_session_reused(ssl) == 1)
            }
            let error = SSL_get_error(ssl, rc)
            guard error == SSL_ERROR_WANT_READ || error == SSL_ERROR_WANT_WRITE else {
                return .failed(failure())
            }
            if !drained { return .wantWrite }
            switch receiveCiphertext() {
            case .received: continue
            case .wouldBlock: return .wantRead
            case .endOfStream: return .failed(failure(endOfStream: true))
            case .failed(let message): return .failed(TLSFailure(reason: message, peerBytes: peerBytes))
            }
        }
    }

    /// What OpenSSL's error queue and the verification result say.
    private func failure(endOfStream: Bool = false) -> TLSFailure {
        let reason = TLSContext.takeErrorReason()
        let verify = lbcshim_ssl_verify_result(ssl)
        let verifyText = verify != 0 ? X509_verify_cert_error_string(verify).map { String(cString: $0) } : nil
        return TLSFailure(reason: reason, verifyError: verifyText, peerBytes: peerBytes, endOfStream: endOfStream)
    }

    // MARK: socket

    private enum Receive { case received, wouldBlock, endOfStream, failed(String) }

    /// One read from the socket into OpenSSL's input BIO.
    private func receiveCiphertext() -> Receive {
        let r: Int?
        do {
            r = try Syscall.nonBlocking("read") { Glibc.read(fd, cipher.baseAddress, cipher.count) }
        } catch {
            return .failed("\(error)")
        }
        guard let n = r else { return .wouldBlock }
        if n == 0 { return .endOfStream }
        socketDrained = n < cipher.count
        if peerBytes == .none {
            peerBytes = TLSFailure.classify(firstBytes: UnsafeRawBufferPointer(start: cipher.baseAddress, count: n))
        }
        _ = BIO_write(rbio, cipher.baseAddress, Int32(n))
        return .received
    }

    /// Send the records OpenSSL produced. True when none are left.
    private func drainOutput() throws(TransportError) -> Bool {
        while true {
            var data: UnsafeMutablePointer<CChar>?
            let pending = lbcshim_bio_get_mem_data(wbio, &data)
            guard pending > 0, let data else {
                outputPending = false
                return true
            }
            let r: Int?
            do {
                r = try Syscall.nonBlocking("write") { send(fd, data, pending, Int32(MSG_NOSIGNAL)) }
            } catch {
                throw TransportError("\(error)")
            }
            guard let sent = r else {
                outputPending = true
                return false
            }
            // Consume what went out (a memory BIO has no cheaper way to skip bytes).
            var left = sent
            while left > 0 {
                let n = BIO_read(wbio, cipher.baseAddress, Int32(min(left, cipher.count)))
                if n <= 0 { break }
                left -= Int(n)
            }
            if sent == pending {
                outputPending = false
                return true
            }
        }
    }

    // MARK: application data

    // The error queue is empty here: every failure path empties it (takeErrorReason),
    // so the hot paths skip ERR_clear_error (~800 instructions a call in OpenSSL 3).

    package func read(into buffer: UnsafeMutableRawBufferPointer) throws(TransportError) -> Int? {
        while true {
            let n = SSL_read(ssl, buffer.baseAddress, Int32(clamping: buffer.count))
            if n > 0 { return Int(n) }
            let error = SSL_get_error(ssl, n)
            switch error {
            case SSL_ERROR_WANT_READ:
                // Records OpenSSL produced while reading (a KeyUpdate reply) go out
                // with the next write or EPOLLOUT; nothing waits for them.
                if socketDrained {
                    socketDrained = false
                    return nil
                }
                switch receiveCiphertext() {
                case .received: continue
                case .wouldBlock: return nil
                case .endOfStream: return 0
                case .failed(let message): throw TransportError(message)
                }
            case SSL_ERROR_ZERO_RETURN:
                machine.peerClosed()
                return 0
            case SSL_ERROR_WANT_WRITE:
                return nil
            default:
                let failure = failure()
                if case .fail(let message) = machine.transferFailed(failure) { throw TransportError(message) }
                throw TransportError(stateMessage)
            }
        }
    }

    /// Encrypts each vector into the output BIO (one `SSL_write` each: OpenSSL copies
    /// the bytes once, into its records) and sends the records with one `send`.
    package func write(vectors: UnsafeBufferPointer<iovec>) throws(TransportError) -> Int? {
        // Records still waiting for the socket go first: back-pressure.
        if outputPending {
            guard try drainOutput() else { return nil }
        }
        var taken = 0
        for v in vectors where v.iov_len > 0 {
            let n = SSL_write(ssl, v.iov_base, Int32(clamping: v.iov_len))
            guard n > 0 else {
                let error = SSL_get_error(ssl, n)
                if error == SSL_ERROR_WANT_WRITE || error == SSL_ERROR_WANT_READ { break }
                if case .fail(let message) = machine.transferFailed(failure()) { throw TransportError(message) }
                throw TransportError(stateMessage)
            }
            taken += Int(n)
            if Int(n) < v.iov_len { break }
        }
        _ = try drainOutput()
        return taken > 0 ? taken : nil
    }

    package func flushBuffered() throws(TransportError) -> Bool {
        outputPending ? try drainOutput() : true
    }

    /// Whether records wait for the socket (tests and the connection's EPOLLOUT logic).
    package var hasPendingOutput: Bool { outputPending }

    package func shutDown() {
        guard case .sendCloseNotify = machine.close() else { return }
        ERR_clear_error()
        _ = SSL_shutdown(ssl)
        _ = try? drainOutput()
        ERR_clear_error()
    }

    /// Why the server closing the connection right after the handshake (before its
    /// HTTP/2 SETTINGS) failed the connection.
    package var closedAfterHandshakeReason: String {
        let certificate: TLSFailure.ClientCertificate = connector.context.options.hasClientCertificate
            ? .configured : (certificateRequestedButMissing ? .requestedButMissing : .notRequested)
        return TLSFailure.closedAfterHandshakeMessage(peer: machine.peer, clientCertificate: certificate)
    }

    /// OpenSSL asks for a client certificate only when the server requested one and
    /// none is configured: remember that (for the failure message) and send none.
    static let clientCertificateCallback: @convention(c) (OpaquePointer?, UnsafeMutablePointer<OpaquePointer?>?,
                                                          UnsafeMutablePointer<OpaquePointer?>?) -> Int32 = { ssl, _, _ in
        if let ssl, let raw = SSL_get_ex_data(ssl, 0) {
            Unmanaged<TLSTransport>.fromOpaque(raw).takeUnretainedValue().certificateRequestedButMissing = true
        }
        return 0
    }

    // MARK: sessions

    /// OpenSSL's new-session callback (TLS 1.3 tickets arrive after the handshake):
    /// keep the session in the endpoint's slot. Returns 1: the slot owns it now.
    static let newSessionCallback: @convention(c) (OpaquePointer?, OpaquePointer?) -> Int32 = { ssl, session in
        guard let ssl, let session, let raw = SSL_get_ex_data(ssl, 0) else { return 0 }
        let transport = Unmanaged<TLSTransport>.fromOpaque(raw).takeUnretainedValue()
        guard SSL_SESSION_is_resumable(session) == 1 else { return 0 }
        transport.connector.endpoint.store(session, generation: transport.connector.context.generation)
        return 1
    }

    /// True for IPv4/IPv6 address literals (verified as IP SANs, never sent as SNI).
    static func isIPAddress(_ name: String) -> Bool {
        var v4 = in_addr(), v6 = in6_addr()
        return inet_pton(AF_INET, name, &v4) == 1 || inet_pton(AF_INET6, name, &v6) == 1
    }
}
