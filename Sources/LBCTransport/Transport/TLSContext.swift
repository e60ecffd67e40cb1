import CLBCShim
import COpenSSL
import Glibc
import LBCCore

/// A channel's OpenSSL client context (SSL_CTX), built from ``TLSOptions``: trust
/// roots, optional client certificate, TLS 1.2+ (or 1.3+), ALPN "h2", peer
/// verification always on, a client session cache fed per endpoint. Immutable once
/// built; `lbc_channel_reload_tls` builds a new one for new connections while
/// existing connections keep theirs (each SSL holds a reference to its SSL_CTX).
///
/// ```swift
/// let context = try TLSContext(options: options.tls)   // reads the files now
/// let ssl = context.makeSSL()
/// ```
package final class TLSContext: @unchecked Sendable {
    /// The SSL_CTX (freed with the context).
    let ctx: OpaquePointer
    /// Changes on every reload: sessions of an older context are not resumed (they
    /// were verified against the old trust settings).
    package let generation: UInt64
    /// The options this context was built from (reloads re-read the same files).
    package let options: TLSOptions

    private static let generationLock = Lock()
    nonisolated(unsafe) private static var nextGeneration: UInt64 = 1

    /// Builds a context, reading every file now. Errors name the option, the file and
    /// OpenSSL's or the system's reason.
    package init(options: TLSOptions) throws(TransportError) {
        guard let ctx = SSL_CTX_new(TLS_client_method()) else {
            throw TransportError("SSL_CTX_new failed: \(TLSContext.takeErrorReason() ?? "out of memory")")
        }
        self.ctx = ctx
        self.options = options
        generation = TLSContext.generationLock.withLock {
            defer { TLSContext.nextGeneration += 1 }
            return TLSContext.nextGeneration
        }
        ERR_clear_error()
        _ = options.minVersion == .tls13 ? lbcshim_ssl_ctx_min_tls13(ctx) : lbcshim_ssl_ctx_min_tls12(ctx)
        lbcshim_ssl_ctx_set_modes(ctx)
        lbcshim_ssl_ctx_set_options(ctx)
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nil)
        var alpn: [UInt8] = [2, UInt8(ascii: "h"), UInt8(ascii: "2")]
        guard SSL_CTX_set_alpn_protos(ctx, &alpn, UInt32(alpn.count)) == 0 else {
            throw TransportError("SSL_CTX_set_alpn_protos failed")
        }
        lbcshim_ssl_ctx_client_session_cache(ctx)
        SSL_CTX_sess_set_new_cb(ctx, TLSTransport.newSessionCallback)
        SSL_CTX_set_client_cert_cb(ctx, TLSTransport.clientCertificateCallback)
        try loadTrust(options)
        try loadIdentity(options)
    }

    deinit { SSL_CTX_free(ctx) }

    private func loadTrust(_ options: TLSOptions) throws(TransportError) {
        let store = SSL_CTX_get_cert_store(ctx)
        var custom = false
        if let file = options.caFile {
            let pem = try Self.readFile(file, option: "tls_ca_file")
            try addCertificates(pem, to: store, what: "tls_ca_file \(TLSContext.quote(file))")
            custom = true
        }
        if let pem = options.caPEM {
            try addCertificates(Array(pem.utf8), to: store, what: "tls_ca_pem")
            custom = true
        }
        if let dir = options.caDirectory {
            var st = stat()
            guard stat(dir, &st) == 0 else {
                throw TransportError("tls_ca_dir \(TLSContext.quote(dir)): \(String(cString: strerror(errno)))")
            }
            guard st.st_mode & S_IFMT == S_IFDIR else {
                throw TransportError("tls_ca_dir \(TLSContext.quote(dir)): not a directory")
            }
            guard SSL_CTX_load_verify_dir(ctx, dir) == 1 else {
                throw TransportError("tls_ca_dir \(TLSContext.quote(dir)): \(Self.takeErrorReason() ?? "cannot be used")")
            }
            custom = true
        }
        if !custom {
            guard SSL_CTX_set_default_verify_paths(ctx) == 1 else {
                throw TransportError("cannot load the system's trusted CA certificates: \(Self.takeErrorReason() ?? "unknown error")")
            }
        }
    }

    private func addCertificates(_ pem: [UInt8], to store: OpaquePointer?, what: String) throws(TransportError) {
        let certificates = try Self.parseCertificates(pem, what: what)
        defer { for c in certificates { X509_free(c) } }
        for c in certificates where X509_STORE_add_cert(store, c) != 1 {
            let reason = Self.takeErrorReason() ?? "rejected"
            if reason.contains("already in hash table") { continue }
            throw TransportError("\(what): \(reason)")
        }
    }

    /// The PEM bytes of an option given as a file (read now) or as text, with the
    /// name errors use for it; nil when neither is set.
    private static func source(file: String?, fileOption: String, pem: String?, pemOption: String)
        throws(TransportError) -> (what: String, bytes: [UInt8])? {
        if let file { return ("\(fileOption) \(TLSContext.quote(file))", try readFile(file, option: fileOption)) }
        if let pem { return (pemOption, Array(pem.utf8)) }
        return nil
    }

    private func loadIdentity(_ options: TLSOptions) throws(TransportError) {
        guard let (chainWhat, chain) = try Self.source(file: options.certificateFile, fileOption: "tls_cert_file",
                                                       pem: options.certificatePEM, pemOption: "tls_cert_pem") else {
            return
        }
        guard let (keyWhat, key) = try Self.source(file: options.keyFile, fileOption: "tls_key_file",
                                                   pem: options.keyPEM, pemOption: "tls_key_pem") else {
            throw TransportError("a client certificate needs its private key (tls_key_file or tls_key_pem)")
        }
        let certificates = try Self.parseCertificates(chain, what: chainWhat)
        defer { for c in certificates { X509_free(c) } }
        guard SSL_CTX_use_certificate(ctx, certificates[0]) == 1 else {
            throw TransportError("\(chainWhat): \(Self.takeErrorReason() ?? "the certificate was rejected")")
        }
        for c in certificates.dropFirst() where lbcshim_ssl_ctx_add1_chain_cert(ctx, c) != 1 {
            throw TransportError("\(chainWhat): \(Self.takeErrorReason() ?? "a chain certificate was rejected")")
        }
        let pkey: OpaquePointer? = key.withUnsafeBytes { raw in
            let bio = BIO_new_mem_buf(raw.baseAddress, Int32(raw.count))
            defer { BIO_free(bio) }
            // A callback that supplies no password: an encrypted key fails instead of
            // prompting on the terminal.
            return PEM_read_bio_PrivateKey(bio, nil, { _, _, _, _ in 0 }, nil)
        }
        guard let pkey else {
            throw TransportError("\(keyWhat): no usable private key (\(Self.takeErrorReason() ?? "unreadable"))")
        }
        defer { EVP_PKEY_free(pkey) }
        guard SSL_CTX_use_PrivateKey(ctx, pkey) == 1 else {
            let reason = Self.takeErrorReason() ?? "the key was rejected"
            if reason.contains("mismatch") {
                throw TransportError("\(keyWhat) does not match the client certificate of \(chainWhat) (\(reason))")
            }
            throw TransportError("\(keyWhat): \(reason)")
        }
        guard SSL_CTX_check_private_key(ctx) == 1 else {
            throw TransportError("\(keyWhat) does not match the client certificate of \(chainWhat)"
                + " (\(Self.takeErrorReason() ?? "key mismatch"))")
        }
    }

    /// A new SSL object for one connection (nil only when out of memory).
    func makeSSL() -> OpaquePointer? { SSL_new(ctx) }

    // MARK: helpers

    /// `text` in double quotes, for messages.
    static func quote(_ text: String) -> String { "\"" + text + "\"" }

    /// Every certificate in PEM text (at least one).
    static func parseCertificates(_ pem: [UInt8], what: String) throws(TransportError) -> [OpaquePointer] {
        var certificates: [OpaquePointer] = []
        ERR_clear_error()
        pem.withUnsafeBytes { raw in
            let bio = BIO_new_mem_buf(raw.baseAddress, Int32(raw.count))
            defer { BIO_free(bio) }
            while let x = PEM_read_bio_X509(bio, nil, nil, nil) { certificates.append(x) }
        }
        let reason = takeErrorReason()
        guard !certificates.isEmpty else {
            throw TransportError("\(what): no certificate found (\(reason ?? "no PEM certificate"))")
        }
        return certificates
    }

    /// The whole file, or an error naming the option, the file and errno's text.
    static func readFile(_ path: String, option: String) throws(TransportError) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            throw TransportError("\(option) \(TLSContext.quote(path)): cannot open: \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 16 << 10)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw TransportError("\(option) \(TLSContext.quote(path)): cannot read: \(String(cString: strerror(errno)))")
            }
            if n == 0 { break }
            bytes.append(contentsOf: chunk[0..<n])
            guard bytes.count <= 16 << 20 else {
                throw TransportError("\(option) \(TLSContext.quote(path)): larger than 16 MiB")
            }
        }
        if bytes.isEmpty { throw TransportError("\(option) \(TLSContext.quote(path)): the file is empty") }
        return bytes
    }

    /// The reason text of the oldest error in this thread's OpenSSL error queue (the
    /// queue is cleared).
    static func takeErrorReason() -> String? {
        let code = ERR_get_error()
        ERR_clear_error()
        guard code != 0 else { return nil }
        if let r = ERR_reason_error_string(code) { return String(cString: r) }
        var buffer = [CChar](repeating: 0, count: 256)
        ERR_error_string_n(code, &buffer, buffer.count)
        return String(cString: buffer)
    }
}
