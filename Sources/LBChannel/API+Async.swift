import CLBCShim
import LBCCore
import LBCTransport

/// Behind `lbc_cq *`.
final class QueueBox {
    let queue: CompletionQueue
    /// The process that made the queue (see HandleOrigin).
    let origin = HandleOrigin()
    init(_ queue: CompletionQueue) { self.queue = queue }
}

@_cdecl("lbc_cq_new")
public func lbc_cq_new(_ out: UnsafeMutablePointer<UnsafeMutableRawPointer?>?) -> Int32 {
    guard let out else { return fail(.invalidArgument, "lbc_cq_new: out is NULL") }
    do {
        out.pointee = Handle.make(QueueBox(try CompletionQueue()))
        return 0
    } catch {
        return fail(.resource, "lbc_cq_new: \(error)")
    }
}

@_cdecl("lbc_cq_free")
public func lbc_cq_free(_ cq: UnsafeMutableRawPointer?) {
    guard let cq else { return }
    let box = Handle.get(cq, as: QueueBox.self)
    guard box.origin.isCurrent else { return }   // the parent's queue: leaked in a forked child
    box.queue.close()
    Handle.release(cq, as: QueueBox.self)
}

@_cdecl("lbc_cq_fd")
public func lbc_cq_fd(_ cq: UnsafeRawPointer?) -> Int32 {
    guard let cq else { return -1 }
    let box = Handle.get(cq, as: QueueBox.self)
    if let error = box.origin.refuse("lbc_cq_fd", "completion queue") { _ = error.record(); return -1 }
    return box.queue.fd
}

@_cdecl("lbc_cq_poll")
public func lbc_cq_poll(_ cq: UnsafeMutableRawPointer?, _ events: UnsafeMutableRawPointer?, _ eventSize: Int,
                        _ max: Int32, _ timeoutMs: Int64) -> Int32 {
    guard let cq else { return fail(.invalidArgument, "lbc_cq_poll: cq is NULL") }
    guard let events else { return fail(.invalidArgument, "lbc_cq_poll: events is NULL") }
    guard max > 0 else { return fail(.invalidArgument, "lbc_cq_poll: max must be > 0, got \(max)") }
    let minimum = lbcshim_event_min_size()
    guard eventSize >= minimum, eventSize % MemoryLayout<UnsafeRawPointer>.size == 0 else {
        return fail(.invalidArgument, "lbc_cq_poll: event_size \(eventSize) is not sizeof(lbc_event): "
                    + "it must be >= \(minimum) and a multiple of \(MemoryLayout<UnsafeRawPointer>.size)")
    }
    let box = Handle.get(cq, as: QueueBox.self)
    if let error = box.origin.refuse("lbc_cq_poll", "completion queue") { return error.record() }
    let queue = box.queue
    let deadline = timeoutMs > 0 ? EventLoop.deadline(afterMs: timeoutMs) : 0
    var written: Int32 = 0
    var waitMs = timeoutMs
    while true {
        let taken = queue.take(max: Int(max - written), timeoutMs: waitMs) { item in
            if fillEvent(events, eventSize, written, from: item) { written += 1 }
        }
        if taken == nil {
            return fail(.closed, "lbc_cq_poll: the completion queue was freed (lbc_cq_free) by another thread")
        }
        // A freed call's leftover events are dropped; keep waiting for real ones.
        if written > 0 || timeoutMs == 0 { return written }
        if timeoutMs > 0 {
            let left = deadline - EventLoop.now()
            if left <= 0 { return 0 }
            waitMs = (left + 999_999) / 1_000_000
        }
    }
}

/// Fill event slot `index` for a queue item (by the C layout: CLBCShim's event.c);
/// false for the leftover event of a call the application has freed (nothing to report).
private func fillEvent(_ events: UnsafeMutableRawPointer, _ eventSize: Int, _ index: Int32,
                       from item: AnyObject) -> Bool {
    if let unary = item as? UnaryCall {
        lbcshim_fill_event(events, eventSize, index, UnsafeMutableRawPointer(bitPattern: unary.tag), 1, 0,
                           Handle.make(ResponseBox(unary)))
        return true
    }
    if let call = item as? StreamCall {
        let taken = call.takeEventFlags()
        if taken == 0 { return false }
        lbcshim_fill_event(events, eventSize, index, UnsafeMutableRawPointer(bitPattern: call.tag), 2, taken, nil)
        return true
    }
    if let feed = item as? LogFeed {
        guard feed.takeEvent() else { return false }
        lbcshim_fill_event(events, eventSize, index, UnsafeMutableRawPointer(bitPattern: feed.tag), 3, 0, nil)
        return true
    }
    if let change = item as? ConnectivityEvent {
        // Out of memory for the address copy: delivered with address NULL (documented).
        let fill = { (address: UnsafePointer<CChar>?) in
            lbcshim_fill_connectivity_event(events, eventSize, index, UnsafeMutableRawPointer(bitPattern: change.tag),
                                            change.flags, change.state.rawValue, change.oldState.rawValue, address)
        }
        _ = change.address.map { $0.withCString(fill) } ?? fill(nil)
        return true
    }
    let lookup = item as! PolledLookup
    guard lookup.takeEvent() else { return false }
    lbcshim_fill_event(events, eventSize, index, UnsafeMutableRawPointer(bitPattern: lookup.tag), 4, 0, nil)
    return true
}

/// Behind `lbc_unary_call *`: an asynchronous unary call the application may cancel.
final class UnaryCallBox {
    let call: UnaryCall
    /// The process that started the call (see HandleOrigin).
    let origin = HandleOrigin()
    init(_ call: UnaryCall) { self.call = call }
}

@_cdecl("lbc_unary_async")
public func lbc_unary_async(_ ch: UnsafeMutableRawPointer?, _ method: UnsafePointer<CChar>?,
                            _ request: UnsafeRawPointer?, _ requestLength: Int,
                            _ metadata: UnsafeRawPointer?, _ timeoutMs: Int64,
                            _ cq: UnsafeMutableRawPointer?, _ tag: UnsafeMutableRawPointer?,
                            _ out: UnsafeMutablePointer<UnsafeMutableRawPointer?>?) -> Int32 {
    guard let cq else { return fail(.invalidArgument, "lbc_unary_async: cq is NULL", handle: ch) }
    let queueBox = Handle.get(cq, as: QueueBox.self)
    if let error = queueBox.origin.refuse("lbc_unary_async", "completion queue", handle: ch) { return error.record() }
    let queue = queueBox.queue
    switch checkUnary("lbc_unary_async", ch, method, request, requestLength, metadata, timeoutMs,
                      queue: queue, tag: UInt(bitPattern: tag)) {
    case .success(let (channel, call)):
        queue.track(call)
        // The handle exists before the call can end, so it never misses the call.
        out?.pointee = Handle.make(UnaryCallBox(call))
        channel.start(call)
        return 0
    case .failure(let error):
        return error.record()
    }
}

@_cdecl("lbc_unary_call_cancel")
public func lbc_unary_call_cancel(_ c: UnsafeMutableRawPointer?) -> Int32 {
    guard let c else { return fail(.invalidArgument, "lbc_unary_call_cancel: call is NULL") }
    let box = Handle.get(c, as: UnaryCallBox.self)
    if let error = box.origin.refuse("lbc_unary_call_cancel", "call") { return error.record() }
    box.call.cancel()
    return 0
}

@_cdecl("lbc_unary_call_free")
public func lbc_unary_call_free(_ c: UnsafeMutableRawPointer?) {
    guard let c else { return }
    let box = Handle.get(c, as: UnaryCallBox.self)
    guard box.origin.isCurrent else { return }   // the parent's call: leaked in a forked child
    Handle.release(c, as: UnaryCallBox.self)
}

@_cdecl("lbc_unary_cancel")
public func lbc_unary_cancel(_ cq: UnsafeMutableRawPointer?, _ tag: UnsafeMutableRawPointer?) -> Int32 {
    guard let cq else { return fail(.invalidArgument, "lbc_unary_cancel: cq is NULL") }
    let box = Handle.get(cq, as: QueueBox.self)
    if let error = box.origin.refuse("lbc_unary_cancel", "completion queue") { return error.record() }
    box.queue.trackedCall(tag: UInt(bitPattern: tag))?.cancel()
    return 0
}
