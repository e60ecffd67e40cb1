/// The TLS settings of a channel (the `tls*` options of include/lbchannel.h).
///
/// Plaintext is the default; `tls` turns TLS on for every connection. Certificate
/// verification is always on: the server's certificate must chain to the trusted roots
/// (the system's default ones unless `tls_ca_*` is given) and name the service host
/// name of the target, or `tls_server_name` when set.
///
/// ```swift
/// var options = ChannelOptions()
/// try options.set("tls", "true")
/// try options.set("tls_ca_file", "/etc/ssl/internal-ca.pem")
/// try options.tls.validate()
/// ```
package struct TLSOptions: Sendable, Equatable {
    /// Lowest protocol version offered (`tls_min_version`).
    package enum MinVersion: String, Sendable, CaseIterable {
        case tls12 = "1.2"
        case tls13 = "1.3"
    }

    /// `tls`: TLS on every connection.
    package var enabled = false
    /// `tls_ca_file`: PEM file of trusted CA certificates (replaces the system roots).
    package var caFile: String? = nil
    /// `tls_ca_dir`: OpenSSL hashed directory of trusted CA certificates (c_rehash).
    package var caDirectory: String? = nil
    /// `tls_ca_pem`: trusted CA certificates as PEM text.
    package var caPEM: String? = nil
    /// `tls_cert_file`: PEM file of the client certificate chain (leaf first), for mTLS.
    package var certificateFile: String? = nil
    /// `tls_key_file`: PEM file of the client certificate's private key.
    package var keyFile: String? = nil
    /// `tls_cert_pem`: the client certificate chain as PEM text.
    package var certificatePEM: String? = nil
    /// `tls_key_pem`: the client private key as PEM text.
    package var keyPEM: String? = nil
    /// `tls_server_name`: the name used for SNI, certificate verification and
    /// `:authority` instead of the target's host name (like grpc.ssl_target_name_override).
    package var serverName: String? = nil
    /// `tls_min_version`: "1.2" (default) or "1.3".
    package var minVersion: MinVersion = .tls12
    /// `tls_session_resumption`: resume TLS sessions when reconnecting to an endpoint.
    package var sessionResumption = true

    /// All defaults (plaintext).
    package init() {}

    /// The option keys handled here, in header order.
    package static let keys: [String] = [
        "tls", "tls_ca_file", "tls_ca_dir", "tls_ca_pem", "tls_cert_file", "tls_key_file",
        "tls_cert_pem", "tls_key_pem", "tls_server_name", "tls_min_version", "tls_session_resumption",
    ]

    /// True when any trust, identity or name setting was given.
    package var hasSettings: Bool {
        caFile != nil || caDirectory != nil || caPEM != nil || certificateFile != nil || keyFile != nil
            || certificatePEM != nil || keyPEM != nil || serverName != nil
    }

    /// True when a client certificate (mTLS) is configured.
    package var hasClientCertificate: Bool { certificateFile != nil || certificatePEM != nil }

    /// Checks the combination of settings (each one was checked when set): TLS settings
    /// need `tls` on; a certificate needs its key and a key its certificate; a file and
    /// PEM text of the same thing exclude each other.
    package func validate() throws(OptionError) {
        if !enabled {
            if hasSettings {
                let given = ["tls_ca_file": caFile, "tls_ca_dir": caDirectory, "tls_ca_pem": caPEM,
                             "tls_cert_file": certificateFile, "tls_key_file": keyFile,
                             "tls_cert_pem": certificatePEM, "tls_key_pem": keyPEM,
                             "tls_server_name": serverName]
                let first = Self.keys.first { given[$0] != nil && given[$0]! != nil } ?? "tls_*"
                throw .invalid(first, "is a TLS setting but TLS is off (set \"tls\" to true)")
            }
            return
        }
        if certificateFile != nil && certificatePEM != nil {
            throw .invalid("tls_cert_pem", "give the client certificate either as tls_cert_file or as tls_cert_pem, not both")
        }
        if keyFile != nil && keyPEM != nil {
            throw .invalid("tls_key_pem", "give the client key either as tls_key_file or as tls_key_pem, not both")
        }
        let hasKey = keyFile != nil || keyPEM != nil
        if hasKey && !hasClientCertificate {
            throw .invalid(keyFile != nil ? "tls_key_file" : "tls_key_pem",
                           "a client key needs its certificate (tls_cert_file or tls_cert_pem)")
        }
        if hasClientCertificate && !hasKey {
            throw .invalid(certificateFile != nil ? "tls_cert_file" : "tls_cert_pem",
                           "a client certificate needs its private key (tls_key_file or tls_key_pem)")
        }
    }
}
