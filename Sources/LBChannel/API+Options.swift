import LBCCore

@_cdecl("lbc_options_new")
public func lbc_options_new(_ out: UnsafeMutablePointer<UnsafeMutableRawPointer?>?) -> Int32 {
    guard let out else { return fail(.invalidArgument, "lbc_options_new: out is NULL") }
    out.pointee = Handle.make(OptionsBox())
    return 0
}

@_cdecl("lbc_options_free")
public func lbc_options_free(_ opts: UnsafeMutableRawPointer?) {
    if let opts { Handle.release(opts, as: OptionsBox.self) }
}

/// Apply `body` to a copy of the options and store it only on success.
private func update(_ opts: UnsafeMutableRawPointer?, _ function: String,
                    _ body: (inout ChannelOptions) throws(OptionError) -> Void) -> Int32 {
    guard let opts else { return fail(.invalidArgument, "\(function): opts is NULL") }
    let box = Handle.get(opts, as: OptionsBox.self)
    var copy = box.options
    do {
        try body(&copy)
    } catch {
        return fail(error.kind == .unknownKey ? .unknownOption : .invalidArgument, error.message)
    }
    box.options = copy
    return 0
}

@_cdecl("lbc_options_set")
public func lbc_options_set(_ opts: UnsafeMutableRawPointer?, _ key: UnsafePointer<CChar>?,
                            _ value: UnsafePointer<CChar>?) -> Int32 {
    guard let key else { return fail(.invalidArgument, "lbc_options_set: key is NULL") }
    guard let value else { return fail(.invalidArgument, "lbc_options_set: value is NULL") }
    let k = String(cString: key), v = String(cString: value)
    return update(opts, "lbc_options_set") { (o: inout ChannelOptions) throws(OptionError) in try o.set(k, v) }
}

@_cdecl("lbc_options_set_lb_policy")
public func lbc_options_set_lb_policy(_ opts: UnsafeMutableRawPointer?, _ policy: Int32) -> Int32 {
    update(opts, "lbc_options_set_lb_policy") { (o: inout ChannelOptions) throws(OptionError) in
        guard let p = LBPolicy(rawValue: policy) else {
            throw OptionError(kind: .invalidValue, message: "lb_policy: \(policy) is not an lbc_lb_policy value")
        }
        o.lbPolicy = p
    }
}

@_cdecl("lbc_options_set_connect_timeout_ms")
public func lbc_options_set_connect_timeout_ms(_ opts: UnsafeMutableRawPointer?, _ ms: Int64) -> Int32 {
    update(opts, "lbc_options_set_connect_timeout_ms") { (o: inout ChannelOptions) throws(OptionError) in
        try o.setConnectTimeout(ms: ms)
    }
}

@_cdecl("lbc_options_set_wait_for_ready")
public func lbc_options_set_wait_for_ready(_ opts: UnsafeMutableRawPointer?, _ enabled: Int32) -> Int32 {
    update(opts, "lbc_options_set_wait_for_ready") { (o: inout ChannelOptions) throws(OptionError) in
        o.waitForReady = enabled != 0
    }
}

@_cdecl("lbc_options_set_max_message_sizes")
public func lbc_options_set_max_message_sizes(_ opts: UnsafeMutableRawPointer?, _ send: Int64, _ receive: Int64) -> Int32 {
    update(opts, "lbc_options_set_max_message_sizes") { (o: inout ChannelOptions) throws(OptionError) in
        try o.setMaxMessageSizes(send: send, receive: receive)
    }
}

@_cdecl("lbc_options_set_backoff")
public func lbc_options_set_backoff(_ opts: UnsafeMutableRawPointer?, _ initialMs: Int64, _ multiplier: Double,
                                    _ jitter: Double, _ maxMs: Int64) -> Int32 {
    update(opts, "lbc_options_set_backoff") { (o: inout ChannelOptions) throws(OptionError) in
        try o.setBackoff(initialMs: initialMs, multiplier: multiplier, jitter: jitter, maxMs: maxMs)
    }
}

@_cdecl("lbc_options_set_keepalive")
public func lbc_options_set_keepalive(_ opts: UnsafeMutableRawPointer?, _ timeMs: Int64, _ timeoutMs: Int64,
                                      _ permitWithoutCalls: Int32) -> Int32 {
    update(opts, "lbc_options_set_keepalive") { (o: inout ChannelOptions) throws(OptionError) in
        try o.setKeepalive(timeMs: timeMs, timeoutMs: timeoutMs, permitWithoutCalls: permitWithoutCalls != 0)
    }
}

@_cdecl("lbc_options_set_authority")
public func lbc_options_set_authority(_ opts: UnsafeMutableRawPointer?, _ authority: UnsafePointer<CChar>?) -> Int32 {
    update(opts, "lbc_options_set_authority") { (o: inout ChannelOptions) throws(OptionError) in
        if let authority {
            try o.set("authority", String(cString: authority))
        } else {
            o.authority = nil
        }
    }
}

@_cdecl("lbc_options_set_retry_policy")
public func lbc_options_set_retry_policy(_ opts: UnsafeMutableRawPointer?, _ maxAttempts: Int32, _ initialMs: Int64,
                                         _ maxMs: Int64, _ multiplier: Double, _ jitter: Double) -> Int32 {
    update(opts, "lbc_options_set_retry_policy") { (o: inout ChannelOptions) throws(OptionError) in
        try o.setRetryBackoff(initialMs: initialMs, maxMs: maxMs, multiplier: multiplier, jitter: jitter)
        try o.setRetryMaxAttempts(Int64(maxAttempts))
    }
}

@_cdecl("lbc_options_set_retry_throttle")
public func lbc_options_set_retry_throttle(_ opts: UnsafeMutableRawPointer?, _ maxTokens: Int32,
                                           _ tokenRatio: Double) -> Int32 {
    update(opts, "lbc_options_set_retry_throttle") { (o: inout ChannelOptions) throws(OptionError) in
        try o.set("retry_throttle_max_tokens", String(maxTokens))
        guard tokenRatio.isFinite else {
            throw OptionError(kind: .invalidValue, message: "option \"retry_throttle_token_ratio\": must be a finite number")
        }
        try o.set("retry_throttle_token_ratio", String(tokenRatio))
    }
}

@_cdecl("lbc_options_set_retry_buffer_bytes")
public func lbc_options_set_retry_buffer_bytes(_ opts: UnsafeMutableRawPointer?, _ bytes: Int64) -> Int32 {
    update(opts, "lbc_options_set_retry_buffer_bytes") { (o: inout ChannelOptions) throws(OptionError) in
        try o.set("retry_buffer_bytes", String(bytes))
    }
}

@_cdecl("lbc_options_set_hedging")
public func lbc_options_set_hedging(_ opts: UnsafeMutableRawPointer?, _ maxAttempts: Int32, _ delayMs: Int64) -> Int32 {
    update(opts, "lbc_options_set_hedging") { (o: inout ChannelOptions) throws(OptionError) in
        try o.set("hedging_delay_ms", String(delayMs))
        try o.setHedgingMaxAttempts(Int64(maxAttempts))
    }
}
