import CLBCShim
import Glibc
import LBCCore
import LBCTransport

@_cdecl("lbc_channel_open")
public func lbc_channel_open(_ target: UnsafePointer<CChar>?, _ opts: UnsafeRawPointer?,
                             _ out: UnsafeMutablePointer<UnsafeMutableRawPointer?>?) -> Int32 {
    guard let target else { return fail(.invalidArgument, "lbc_channel_open: target is NULL") }
    guard let out else { return fail(.invalidArgument, "lbc_channel_open: out is NULL") }
    if let error = HandleOrigin.refuseOpenInChild() { return error.record() }
    let text = String(cString: target)
    let box = opts.map { Handle.get($0, as: OptionsBox.self) }
    let options = box?.options ?? ChannelOptions()
    let source: EndpointSource
    var tlsTarget: (host: String?, port: UInt16?) = (nil, nil)
    let polled = box?.lookupQueue.map { PolledLookup(queue: $0.queue, tag: $0.tag) }
    if let polled {
        guard !text.isEmpty else { return fail(.invalidTarget, "lbc_channel_open: the target is empty") }
        guard options.resolution != .eager else {
            return fail(.invalidArgument, "lbc_channel_open: resolution=eager cannot wait for a lookup queue "
                        + "(nobody can answer before open returns); use lazy")
        }
        source = .lookup({ target in polled.lookup(target) })
    } else if let lookup = box?.lookup {
        guard !text.isEmpty else { return fail(.invalidTarget, "lbc_channel_open: the target is empty") }
        source = .lookup(lookupFunction(lookup))
    } else {
        do {
            switch try Target.parse(text) {
            case .addresses(let addresses): source = .fixed(addresses)
            case .manual: source = .manual
            case .dns(let server, let host, let port):
                source = .dns(server: server, host: host, port: port)
                tlsTarget = (host, port)
            }
        } catch {
            return fail(error.isUnsupported ? .unsupported : .invalidTarget, error.message)
        }
    }
    let tls: ChannelTLS?
    switch makeChannelTLS(options.tls, serviceHost: tlsTarget.host, servicePort: tlsTarget.port) {
    case .success(let value): tls = value
    case .failure(let error): return fail(.invalidArgument, error.message)
    }
    let feed = box?.logQueue.map { LogFeed(queue: $0.queue, tag: $0.tag) }
    do {
        let channel = try Channel(source: source, targetText: text, options: options,
                                  log: logSink(box?.log, feed), tls: tls)
        out.pointee = ChannelRegistry.register(channel, feed: feed, polledLookup: polled)
        return 0
    } catch {
        switch error {
        case .resolver(let message): return fail(.invalidTarget, message)
        case .resolutionTimeout(let message): return fail(.resolution, message)
        case .system: return fail(.resource, error.description)
        }
    }
}

@_cdecl("lbc_channel_close")
public func lbc_channel_close(_ ch: UnsafeMutableRawPointer?) {
    guard let ch else { return }
    let channel: Channel
    switch ChannelRegistry.remove(ch) {
    case .channel(let found): channel = found
    case .forked, .none: return   // .forked: the parent's channel is leaked in the child, deliberately
    }
    // SHUTDOWN and the watches' last events now, before close returns, even when the
    // teardown below outlives it (a callback that does not return).
    channel.connectivity.shutDown()
    if channel.isOwnThread {
        // Called from the channel's own log or lookup callback: the handle is closed
        // now; the teardown, which waits for that callback to return, runs elsewhere.
        channel.muteCallbacks()
        let handle = UnsafeRawPointer(ch)
        do {
            try Thread.startDetached {
                channel.close()
                Handle.release(handle, as: Channel.self)
            }
        } catch {
            // No thread to spare: leak the channel rather than deadlock.
        }
        return
    }
    // Bounded: a callback that never returns (a runtime lock the caller holds) must
    // not hang the caller; the teardown then completes when it returns.
    let handle = UnsafeRawPointer(ch)
    _ = channel.close(waitingAtMostNs: Channel.closeWaitNs) {
        Handle.release(handle, as: Channel.self)
    }
}

@_cdecl("lbc_channel_errmsg")
public func lbc_channel_errmsg(_ ch: UnsafeRawPointer?) -> UnsafePointer<CChar> {
    lbcshim_errmsg_for(ch)
}

@_cdecl("lbc_channel_errmsg_copy")
public func lbc_channel_errmsg_copy(_ ch: UnsafeRawPointer?, _ buffer: UnsafeMutablePointer<CChar>?,
                                    _ size: Int) -> Int32 {
    guard let ch else { return fail(.invalidArgument, "lbc_channel_errmsg_copy: ch is NULL") }
    guard buffer != nil || size == 0 else {
        return fail(.invalidArgument, "lbc_channel_errmsg_copy: buf is NULL but size is \(size)")
    }
    let message: String
    switch ChannelRegistry.lastFailure(ch, "lbc_channel_errmsg_copy") {
    case .success(let found): message = found
    case .failure(let error): return error.record()
    }
    let bytes = Array(message.utf8.prefix(Int(Int32.max - 1)))
    if let buffer, size > 0 {
        let n = min(bytes.count, size - 1)
        for i in 0..<n { buffer[i] = CChar(bitPattern: bytes[i]) }
        buffer[n] = 0
    }
    return Int32(bytes.count)
}

@_cdecl("lbc_channel_next_log")
public func lbc_channel_next_log(_ ch: UnsafeMutableRawPointer?, _ level: UnsafeMutablePointer<Int32>?,
                                 _ message: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    guard let ch else { return fail(.invalidArgument, "lbc_channel_next_log: ch is NULL") }
    guard let level, let message else {
        return fail(.invalidArgument, "lbc_channel_next_log: level or message is NULL", handle: ch)
    }
    let feed: LogFeed
    switch ChannelRegistry.logFeed(ch, "lbc_channel_next_log") {
    case .success(let found?): feed = found
    case .success(nil):
        return fail(.invalidArgument, "lbc_channel_next_log: the channel was opened without a log queue "
                    + "(lbc_options_set_log_queue)", handle: ch)
    case .failure(let error): return error.record()
    }
    // Copied before the line is taken: out of memory changes nothing.
    var copy: UnsafeMutablePointer<CChar>?
    var lineLevel: Int32 = 0
    switch feed.next({ l, text in
        copy = strdup(text)
        lineLevel = l.rawValue
        return copy != nil
    }) {
    case nil: return fail(.wouldBlock, "lbc_channel_next_log: no log line pending")
    case false?: return fail(.resource, "lbc_channel_next_log: out of memory (the line stays queued)", handle: ch)
    case true?:
        level.pointee = lineLevel
        message.pointee = copy
        return 0
    }
}

@_cdecl("lbc_channel_stats_json")
public func lbc_channel_stats_json(_ ch: UnsafeMutableRawPointer?,
                                   _ out: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    guard let ch else { return fail(.invalidArgument, "lbc_channel_stats_json: ch is NULL") }
    guard let out else { return fail(.invalidArgument, "lbc_channel_stats_json: json_out is NULL", handle: ch) }
    let channel: Channel
    switch ChannelRegistry.lookup(ch, "lbc_channel_stats_json") {
    case .success(let found): channel = found
    case .failure(let error): return error.record()
    }
    guard let json = channel.statsJSON() else {
        return fail(.closed, "lbc_channel_stats_json: the channel is closed", handle: ch)
    }
    guard let copy = strdup(json) else { return fail(.resource, "out of memory", handle: ch) }
    out.pointee = copy
    return 0
}
