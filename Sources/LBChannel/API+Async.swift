import LBCCore
import LBCTransport

/// Behind `lbc_cq *`.
final class QueueBox {
    let queue: CompletionQueue
    init(_ queue: CompletionQueue) { self.queue = queue }
}

/// `lbc_event` as laid out by the C compiler on LP64: tag, kind, flags, response.
private enum EventLayout {
    static let size = 24
    static let tag = 0, kind = 8, flags = 12, response = 16
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
    Handle.get(cq, as: QueueBox.self).queue.close()
    Handle.release(cq, as: QueueBox.self)
}

@_cdecl("lbc_cq_fd")
public func lbc_cq_fd(_ cq: UnsafeRawPointer?) -> Int32 {
    guard let cq else { return -1 }
    return Handle.get(cq, as: QueueBox.self).queue.fd
}

@_cdecl("lbc_cq_poll")
public func lbc_cq_poll(_ cq: UnsafeMutableRawPointer?, _ events: UnsafeMutableRawPointer?, _ max: Int32,
                        _ timeoutMs: Int64) -> Int32 {
    guard let cq else { return fail(.invalidArgument, "lbc_cq_poll: cq is NULL") }
    guard let events else { return fail(.invalidArgument, "lbc_cq_poll: events is NULL") }
    guard max > 0 else { return fail(.invalidArgument, "lbc_cq_poll: max must be > 0, got \(max)") }
    var i = 0
    let n = Handle.get(cq, as: QueueBox.self).queue.take(max: Int(max), timeoutMs: timeoutMs) { item in
        let slot = events + i * EventLayout.size
        i += 1
        if let unary = item as? UnaryCall {
            slot.storeBytes(of: UnsafeMutableRawPointer(bitPattern: unary.tag), toByteOffset: EventLayout.tag,
                            as: UnsafeMutableRawPointer?.self)
            slot.storeBytes(of: 1, toByteOffset: EventLayout.kind, as: Int32.self)
            slot.storeBytes(of: 0, toByteOffset: EventLayout.flags, as: UInt32.self)
            slot.storeBytes(of: Handle.make(ResponseBox(unary)), toByteOffset: EventLayout.response,
                            as: UnsafeMutableRawPointer?.self)
        } else {
            let call = item as! StreamCall
            slot.storeBytes(of: UnsafeMutableRawPointer(bitPattern: call.tag), toByteOffset: EventLayout.tag,
                            as: UnsafeMutableRawPointer?.self)
            slot.storeBytes(of: 2, toByteOffset: EventLayout.kind, as: Int32.self)
            slot.storeBytes(of: call.takeEventFlags(), toByteOffset: EventLayout.flags, as: UInt32.self)
            slot.storeBytes(of: nil, toByteOffset: EventLayout.response, as: UnsafeMutableRawPointer?.self)
        }
    }
    return Int32(n)
}

@_cdecl("lbc_unary_async")
public func lbc_unary_async(_ ch: UnsafeMutableRawPointer?, _ method: UnsafePointer<CChar>?,
                            _ request: UnsafeRawPointer?, _ requestLength: Int,
                            _ metadata: UnsafeRawPointer?, _ timeoutMs: Int64,
                            _ cq: UnsafeMutableRawPointer?, _ tag: UnsafeMutableRawPointer?) -> Int32 {
    guard let cq else { return fail(.invalidArgument, "lbc_unary_async: cq is NULL", handle: ch) }
    switch checkUnary("lbc_unary_async", ch, method, request, requestLength, metadata, timeoutMs) {
    case .success(let unary):
        let queue = Handle.get(cq, as: QueueBox.self).queue
        let call = unary.makeCall(queue: queue, tag: UInt(bitPattern: tag))
        queue.track(call)
        unary.channel.start(call)
        return 0
    case .failure(let error):
        return error.record()
    }
}

@_cdecl("lbc_unary_cancel")
public func lbc_unary_cancel(_ cq: UnsafeMutableRawPointer?, _ tag: UnsafeMutableRawPointer?) -> Int32 {
    guard let cq else { return fail(.invalidArgument, "lbc_unary_cancel: cq is NULL") }
    Handle.get(cq, as: QueueBox.self).queue.trackedCall(tag: UInt(bitPattern: tag))?.cancel()
    return 0
}
