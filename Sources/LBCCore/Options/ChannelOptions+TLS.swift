/// Parsing of the `tls*` options (``TLSOptions``).
extension TLSOptions {
    /// Sets one `tls*` option from its text form; on error `self` is unchanged.
    /// Paths must be non-empty without control bytes, PEM texts must hold a
    /// "-----BEGIN " line; `tls_server_name` is a host name or an
    /// IP address literal (bytes 0x21...0x7E, at most 253).
    package mutating func set(_ key: String, _ value: String) throws(OptionError) {
        switch key {
        case "tls": enabled = try ChannelOptions.boolean(key, value)
        case "tls_ca_file": caFile = try Self.nonEmpty(key, value)
        case "tls_ca_dir": caDirectory = try Self.nonEmpty(key, value)
        case "tls_ca_pem": caPEM = try Self.pem(key, value)
        case "tls_cert_file": certificateFile = try Self.nonEmpty(key, value)
        case "tls_key_file": keyFile = try Self.nonEmpty(key, value)
        case "tls_cert_pem": certificatePEM = try Self.pem(key, value)
        case "tls_key_pem": keyPEM = try Self.pem(key, value)
        case "tls_server_name":
            try ChannelOptions.checkText(key, value, lowest: 0x21)
            guard value.utf8.count <= 253 else { throw .invalid(key, "is longer than 253 bytes") }
            serverName = value
        case "tls_min_version": minVersion = try ChannelOptions.choice(key, value, of: MinVersion.self)
        case "tls_session_resumption": sessionResumption = try ChannelOptions.boolean(key, value)
        default:
            throw OptionError(kind: .unknownKey, message: "unknown option \(ASCII.quoted(key))")
        }
    }

    /// A path: non-empty, no control characters.
    private static func nonEmpty(_ key: String, _ value: String) throws(OptionError) -> String {
        if value.isEmpty { throw .invalid(key, "must not be empty") }
        for (offset, byte) in value.utf8.enumerated() where byte < 0x20 || byte == 0x7F {
            throw .invalid(key, "\(ASCII.quoted(value)) has control byte \(ASCII.hexByte(byte)) at offset \(offset)")
        }
        return value
    }

    private static func pem(_ key: String, _ value: String) throws(OptionError) -> String {
        guard value.utf8.contains(UInt8(ascii: "-")), value.contains("-----BEGIN ") else {
            throw .invalid(key, "is not PEM text (no \"-----BEGIN \" line)")
        }
        return value
    }
}
