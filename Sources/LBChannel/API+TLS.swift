import LBCCore
import LBCTransport

/// The channel's TLS (nil for plaintext), with every file read now: options that
/// cannot work fail here, naming the option, the file and the reason.
func makeChannelTLS(_ options: TLSOptions, serviceHost: String?, servicePort: UInt16?) -> Result<ChannelTLS?, TransportError> {
    do throws(OptionError) {
        try options.validate()
    } catch {
        return .failure(TransportError(error.message))
    }
    guard options.enabled else { return .success(nil) }
    do throws(TransportError) {
        let context = try TLSContext(options: options)
        return .success(ChannelTLS(context: context, serviceHost: serviceHost, servicePort: servicePort))
    } catch {
        return .failure(error)
    }
}

/// Apply `body` to a copy of the options' TLS part and store it only on success.
private func updateTLS(_ opts: UnsafeMutableRawPointer?, _ function: String,
                       _ body: (inout TLSOptions) throws(OptionError) -> Void) -> Int32 {
    guard let opts else { return fail(.invalidArgument, "\(function): opts is NULL") }
    let box = Handle.get(opts, as: OptionsBox.self)
    var copy = box.options.tls
    do {
        try body(&copy)
    } catch {
        return fail(.invalidArgument, "\(function): \(error.message)")
    }
    box.options.tls = copy
    return 0
}

/// The text of an optional C string argument; nil stays nil.
private func text(_ p: UnsafePointer<CChar>?) -> String? { p.map { String(cString: $0) } }

/// The text of a (pointer, length) PEM argument; nil pointer stays nil.
private func pem(_ p: UnsafePointer<CChar>?, _ length: Int) -> String? {
    guard let p else { return nil }
    return p.withMemoryRebound(to: UInt8.self, capacity: length) {
        String(decoding: UnsafeBufferPointer(start: $0, count: length), as: UTF8.self)
    }
}

@_cdecl("lbc_options_set_tls")
public func lbc_options_set_tls(_ opts: UnsafeMutableRawPointer?, _ enabled: Int32) -> Int32 {
    updateTLS(opts, "lbc_options_set_tls") { (o: inout TLSOptions) throws(OptionError) in o.enabled = enabled != 0 }
}

@_cdecl("lbc_options_set_tls_roots")
public func lbc_options_set_tls_roots(_ opts: UnsafeMutableRawPointer?, _ caFile: UnsafePointer<CChar>?,
                                      _ caDir: UnsafePointer<CChar>?, _ caPEM: UnsafePointer<CChar>?,
                                      _ caPEMLength: Int) -> Int32 {
    updateTLS(opts, "lbc_options_set_tls_roots") { (o: inout TLSOptions) throws(OptionError) in
        var t = TLSOptions()
        if let f = text(caFile) { try t.set("tls_ca_file", f) }
        if let d = text(caDir) { try t.set("tls_ca_dir", d) }
        if let p = pem(caPEM, caPEMLength) { try t.set("tls_ca_pem", p) }
        o.caFile = t.caFile
        o.caDirectory = t.caDirectory
        o.caPEM = t.caPEM
    }
}

@_cdecl("lbc_options_set_tls_client_cert_files")
public func lbc_options_set_tls_client_cert_files(_ opts: UnsafeMutableRawPointer?, _ certFile: UnsafePointer<CChar>?,
                                                  _ keyFile: UnsafePointer<CChar>?) -> Int32 {
    updateTLS(opts, "lbc_options_set_tls_client_cert_files") { (o: inout TLSOptions) throws(OptionError) in
        var t = TLSOptions()
        if let c = text(certFile) { try t.set("tls_cert_file", c) }
        if let k = text(keyFile) { try t.set("tls_key_file", k) }
        o.certificateFile = t.certificateFile
        o.keyFile = t.keyFile
        o.certificatePEM = nil
        o.keyPEM = nil
    }
}

@_cdecl("lbc_options_set_tls_client_cert_pem")
public func lbc_options_set_tls_client_cert_pem(_ opts: UnsafeMutableRawPointer?, _ certPEM: UnsafePointer<CChar>?,
                                                _ certLength: Int, _ keyPEM: UnsafePointer<CChar>?,
                                                _ keyLength: Int) -> Int32 {
    updateTLS(opts, "lbc_options_set_tls_client_cert_pem") { (o: inout TLSOptions) throws(OptionError) in
        var t = TLSOptions()
        if let c = pem(certPEM, certLength) { try t.set("tls_cert_pem", c) }
        if let k = pem(keyPEM, keyLength) { try t.set("tls_key_pem", k) }
        o.certificatePEM = t.certificatePEM
        o.keyPEM = t.keyPEM
        o.certificateFile = nil
        o.keyFile = nil
    }
}

@_cdecl("lbc_options_set_tls_server_name")
public func lbc_options_set_tls_server_name(_ opts: UnsafeMutableRawPointer?, _ name: UnsafePointer<CChar>?) -> Int32 {
    updateTLS(opts, "lbc_options_set_tls_server_name") { (o: inout TLSOptions) throws(OptionError) in
        if let n = text(name) { try o.set("tls_server_name", n) } else { o.serverName = nil }
    }
}

@_cdecl("lbc_channel_reload_tls")
public func lbc_channel_reload_tls(_ ch: UnsafeMutableRawPointer?) -> Int32 {
    guard let ch else { return fail(.invalidArgument, "lbc_channel_reload_tls: ch is NULL") }
    let channel: Channel
    switch ChannelRegistry.lookup(ch, "lbc_channel_reload_tls") {
    case .success(let found): channel = found
    case .failure(let error): return error.record()
    }
    if channel.isOwnThread {
        return fail(.recursiveCall, "lbc_channel_reload_tls: called from one of this channel's callbacks", handle: ch)
    }
    do throws(TransportError) {
        try channel.reloadTLS()
    } catch {
        let code: LBCError = error.message == "the channel is closed" ? .closed : .invalidArgument
        return fail(code, "lbc_channel_reload_tls: \(error.message)", handle: ch)
    }
    return 0
}
