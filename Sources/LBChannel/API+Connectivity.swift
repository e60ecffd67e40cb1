import CLBCShim
import LBCCore
import LBCTransport

/// Behind `lbc_connectivity_watch *`.
final class ConnectivityWatchBox {
    let feed: ConnectivityFeed
    let watch: ConnectivityWatch
    /// The process that made the watch (see HandleOrigin).
    let origin = HandleOrigin()
    init(feed: ConnectivityFeed, watch: ConnectivityWatch) {
        self.feed = feed
        self.watch = watch
    }
}

@_cdecl("lbc_channel_connectivity")
public func lbc_channel_connectivity(_ ch: UnsafeRawPointer?) -> Int32 {
    guard let ch else { return fail(.invalidArgument, "lbc_channel_connectivity: ch is NULL") }
    switch ChannelRegistry.lookup(ch, "lbc_channel_connectivity") {
    case .success(let channel): return channel.connectivity.state.rawValue
    case .failure(let error):
        if error.code == .closed { return ChannelConnectivity.State.shutdown.rawValue }
        return error.record()
    }
}

@_cdecl("lbc_channel_endpoint_connectivity")
public func lbc_channel_endpoint_connectivity(_ ch: UnsafeRawPointer?, _ address: UnsafePointer<CChar>?) -> Int32 {
    let function = "lbc_channel_endpoint_connectivity"
    guard let ch else { return fail(.invalidArgument, "\(function): ch is NULL") }
    guard let address else { return fail(.invalidArgument, "\(function): address is NULL", handle: ch) }
    let parsed: EndpointAddress
    do {
        parsed = try EndpointAddress.parse(String(cString: address))
    } catch {
        return fail(.invalidArgument, "\(function): \(error.message)", handle: ch)
    }
    let channel: Channel
    switch ChannelRegistry.lookup(ch, function) {
    case .success(let found): channel = found
    case .failure(let error): return error.record()
    }
    guard let state = channel.endpointConnectivity(parsed) else {
        return fail(.closed, "\(function): the channel is closed", handle: ch)
    }
    return state.rawValue
}

@_cdecl("lbc_channel_watch_connectivity")
public func lbc_channel_watch_connectivity(_ ch: UnsafeMutableRawPointer?, _ cq: UnsafeMutableRawPointer?,
                                           _ tag: UnsafeMutableRawPointer?, _ flags: UInt32,
                                           _ out: UnsafeMutablePointer<UnsafeMutableRawPointer?>?) -> Int32 {
    let function = "lbc_channel_watch_connectivity"
    guard let ch else { return fail(.invalidArgument, "\(function): ch is NULL") }
    guard let cq else { return fail(.invalidArgument, "\(function): cq is NULL", handle: ch) }
    let known: UInt32 = 0x1  // LBC_WATCH_ENDPOINTS
    guard flags & ~known == 0 else {
        return fail(.invalidArgument, "\(function): unknown flag bits 0x\(String(flags & ~known, radix: 16)) "
                    + "(known: LBC_WATCH_ENDPOINTS = 0x1)", handle: ch)
    }
    let queueBox = Handle.get(cq, as: QueueBox.self)
    if let error = queueBox.origin.refuse(function, "completion queue", handle: ch) { return error.record() }
    let channel: Channel
    switch ChannelRegistry.lookup(ch, function) {
    case .success(let found): channel = found
    case .failure(let error): return error.record()
    }
    guard let watch = channel.connectivity.watch(queue: queueBox.queue, tag: UInt(bitPattern: tag),
                                                 endpoints: flags & 0x1 != 0) else {
        return fail(.closed, "\(function): the channel is closed", handle: ch)
    }
    out?.pointee = Handle.make(ConnectivityWatchBox(feed: channel.connectivity, watch: watch))
    return 0
}

@_cdecl("lbc_connectivity_watch_free")
public func lbc_connectivity_watch_free(_ w: UnsafeMutableRawPointer?) {
    guard let w else { return }
    let box = Handle.get(w, as: ConnectivityWatchBox.self)
    guard box.origin.isCurrent else { return }   // the parent's watch: leaked in a forked child
    box.feed.cancel(box.watch)
    Handle.release(w, as: ConnectivityWatchBox.self)
}
