import LBCCore
import LBCTransport

@_cdecl("lbc_options_set_lookup")
public func lbc_options_set_lookup(_ opts: UnsafeMutableRawPointer?, _ fn: LookupCallback.Function?,
                                   _ userData: UnsafeMutableRawPointer?) -> Int32 {
    guard let opts else { return fail(.invalidArgument, "lbc_options_set_lookup: opts is NULL") }
    Handle.get(opts, as: OptionsBox.self).lookup = fn.map { LookupCallback(function: $0, userData: userData) }
    return 0
}

@_cdecl("lbc_options_set_log_callback")
public func lbc_options_set_log_callback(_ opts: UnsafeMutableRawPointer?, _ fn: LogCallback.Function?,
                                         _ userData: UnsafeMutableRawPointer?) -> Int32 {
    guard let opts else { return fail(.invalidArgument, "lbc_options_set_log_callback: opts is NULL") }
    Handle.get(opts, as: OptionsBox.self).log = fn.map { LogCallback(function: $0, userData: userData) }
    return 0
}

@_cdecl("lbc_address_list_add")
public func lbc_address_list_add(_ list: UnsafeMutableRawPointer?, _ address: UnsafePointer<CChar>?) -> Int32 {
    guard let list else { return fail(.invalidArgument, "lbc_address_list_add: list is NULL") }
    guard let address else { return fail(.invalidArgument, "lbc_address_list_add: address is NULL") }
    let text = String(cString: address)
    do {
        _ = try EndpointAddress.parseWeighted(text)
    } catch {
        return fail(.invalidArgument, error.message)
    }
    Handle.get(list, as: AddressListBox.self).addresses.append(text)
    return 0
}

@_cdecl("lbc_address_list_set_error")
public func lbc_address_list_set_error(_ list: UnsafeMutableRawPointer?, _ message: UnsafePointer<CChar>?) -> Int32 {
    guard let list else { return fail(.invalidArgument, "lbc_address_list_set_error: list is NULL") }
    guard let message else { return fail(.invalidArgument, "lbc_address_list_set_error: message is NULL") }
    Handle.get(list, as: AddressListBox.self).error = String(cString: message)
    return 0
}

@_cdecl("lbc_channel_set_endpoints")
public func lbc_channel_set_endpoints(_ ch: UnsafeMutableRawPointer?,
                                      _ addresses: UnsafePointer<UnsafePointer<CChar>?>?, _ count: Int) -> Int32 {
    guard let ch else { return fail(.invalidArgument, "lbc_channel_set_endpoints: ch is NULL") }
    guard addresses != nil || count == 0 else {
        return fail(.invalidArgument, "lbc_channel_set_endpoints: addresses is NULL but count is \(count)", handle: ch)
    }
    guard count >= 0 else { return fail(.invalidArgument, "lbc_channel_set_endpoints: count is too large", handle: ch) }
    var parsed: [EndpointAddress] = []
    var weights: [EndpointAddress: Int] = [:]
    for i in 0..<count {
        guard let text = addresses![i] else {
            return fail(.invalidArgument, "lbc_channel_set_endpoints: addresses[\(i)] is NULL", handle: ch)
        }
        do {
            let (address, weight) = try EndpointAddress.parseWeighted(String(cString: text))
            parsed.append(address)
            if let weight { weights[address] = weight }
        } catch {
            return fail(.invalidArgument, "lbc_channel_set_endpoints: addresses[\(i)]: \(error.message)", handle: ch)
        }
    }
    let channel: Channel
    switch ChannelRegistry.lookup(ch, "lbc_channel_set_endpoints") {
    case .success(let found): channel = found
    case .failure(let error): return error.record()
    }
    guard channel.setEndpoints(parsed, weights: weights) else {
        return fail(.closed, "lbc_channel_set_endpoints: the channel is closed", handle: ch)
    }
    return 0
}

/// Adapt a C lookup callback to the transport's lookup function.
func lookupFunction(_ callback: LookupCallback) -> LookupFunction {
    return { target in
        let list = AddressListBox()
        let handle = Unmanaged.passRetained(list).toOpaque()
        let rc = target.withCString { callback.function($0, handle, callback.userData) }
        Unmanaged<AddressListBox>.fromOpaque(handle).release()
        if rc != 0 {
            return .failure(LookupFailure(list.error ?? "lookup callback returned \(rc)"))
        }
        return .success(list.addresses)
    }
}

/// Adapt a C log callback.
/// Where the channel's log lines go: the callback, the polled feed, both or nowhere.
func logSink(_ callback: LogCallback?, _ feed: LogFeed?) -> LogFunction? {
    switch (callback.map(logFunction), feed) {
    case (nil, nil): return nil
    case (let f?, nil): return f
    case (nil, let feed?): return { level, message in feed.append(level, message) }
    case (let f?, let feed?): return { level, message in f(level, message); feed.append(level, message) }
    }
}

@_cdecl("lbc_options_set_lookup_queue")
public func lbc_options_set_lookup_queue(_ opts: UnsafeMutableRawPointer?, _ cq: UnsafeMutableRawPointer?,
                                         _ tag: UnsafeMutableRawPointer?) -> Int32 {
    guard let opts else { return fail(.invalidArgument, "lbc_options_set_lookup_queue: opts is NULL") }
    guard let cq else {
        Handle.get(opts, as: OptionsBox.self).lookupQueue = nil
        return 0
    }
    let queueBox = Handle.get(cq, as: QueueBox.self)
    if let error = queueBox.origin.refuse("lbc_options_set_lookup_queue", "completion queue") { return error.record() }
    Handle.get(opts, as: OptionsBox.self).lookupQueue = (queueBox.queue, UInt(bitPattern: tag))
    return 0
}

@_cdecl("lbc_channel_answer_lookup")
public func lbc_channel_answer_lookup(_ ch: UnsafeMutableRawPointer?, _ addresses: UnsafePointer<UnsafePointer<CChar>?>?,
                                      _ count: Int, _ error: UnsafePointer<CChar>?) -> Int32 {
    guard let ch else { return fail(.invalidArgument, "lbc_channel_answer_lookup: ch is NULL") }
    guard addresses != nil || count == 0 else {
        return fail(.invalidArgument, "lbc_channel_answer_lookup: addresses is NULL but count is \(count)", handle: ch)
    }
    guard count >= 0 else { return fail(.invalidArgument, "lbc_channel_answer_lookup: count is too large", handle: ch) }
    var texts: [String] = []
    for i in 0..<count {
        guard let text = addresses![i] else {
            return fail(.invalidArgument, "lbc_channel_answer_lookup: addresses[\(i)] is NULL", handle: ch)
        }
        texts.append(String(cString: text))
    }
    let polled: PolledLookup
    switch ChannelRegistry.polledLookup(ch, "lbc_channel_answer_lookup") {
    case .success(let found?): polled = found
    case .success(nil):
        return fail(.invalidArgument, "lbc_channel_answer_lookup: the channel was opened without a lookup queue "
                    + "(lbc_options_set_lookup_queue)", handle: ch)
    case .failure(let error): return error.record()
    }
    let answer: Result<[String], LookupFailure> = error.map { .failure(LookupFailure(String(cString: $0))) }
        ?? .success(texts)
    guard polled.answer(answer) else {
        return fail(.invalidArgument, "lbc_channel_answer_lookup: no lookup is due (answer each LBC_EVENT_LOOKUP once)",
                    handle: ch)
    }
    return 0
}

@_cdecl("lbc_options_set_log_queue")
public func lbc_options_set_log_queue(_ opts: UnsafeMutableRawPointer?, _ cq: UnsafeMutableRawPointer?,
                                      _ tag: UnsafeMutableRawPointer?) -> Int32 {
    guard let opts else { return fail(.invalidArgument, "lbc_options_set_log_queue: opts is NULL") }
    guard let cq else {
        Handle.get(opts, as: OptionsBox.self).logQueue = nil
        return 0
    }
    let queueBox = Handle.get(cq, as: QueueBox.self)
    if let error = queueBox.origin.refuse("lbc_options_set_log_queue", "completion queue") { return error.record() }
    Handle.get(opts, as: OptionsBox.self).logQueue = (queueBox.queue, UInt(bitPattern: tag))
    return 0
}

func logFunction(_ callback: LogCallback) -> LogFunction {
    return { level, message in
        message.withCString { callback.function(level.rawValue, $0, callback.userData) }
    }
}
