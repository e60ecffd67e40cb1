import Glibc
import LBCCore
import LBCTransport

/// Behind `lbc_call *`: the call plus C copies of what it reports, made once.
final class CallBox {
    let call: StreamCall
    /// The process that started the call (see HandleOrigin).
    let origin = HandleOrigin()
    private let lock = Lock()
    private var headersBox: MetadataBox?      // guarded by lock
    private var trailersBox: MetadataBox?     // guarded by lock
    private var message: UnsafeMutablePointer<CChar>?  // guarded by lock

    init(_ call: StreamCall) { self.call = call }

    deinit { free(message) }

    /// The response headers; only once the call reported them ready.
    var headers: MetadataBox {
        lock.withLock {
            if let box = headersBox { return box }
            let headers = call.responseHeaders
            let box = headers.isEmpty ? MetadataBox.empty : MetadataBox(headers)
            headersBox = box
            return box
        }
    }

    /// Status, message and trailers; only once the call has ended.
    var outcome: (Int32, UnsafePointer<CChar>, MetadataBox) {
        lock.withLock {
            if trailersBox == nil {
                trailersBox = call.trailers.isEmpty ? MetadataBox.empty : MetadataBox(call.trailers)
                message = strdup(call.statusMessage)
            }
            return (call.status.rawValue, UnsafePointer(message!), trailersBox!)
        }
    }
}

/// A C timeout as a deadline: < 0 none (nil), 0 do not wait (0), else now + ms.
private func deadline(_ timeoutMs: Int64) -> Int64? {
    if timeoutMs < 0 { return nil }
    if timeoutMs == 0 { return 0 }
    return EventLoop.deadline(afterMs: timeoutMs)
}

/// The call behind a handle, or the LBC_ERR_FORKED error in a forked child.
private func callBox(_ c: UnsafeRawPointer, _ function: String) -> Result<CallBox, CodedError> {
    let box = Handle.get(c, as: CallBox.self)
    if let error = box.origin.refuse(function, "call") { return .failure(error) }
    return .success(box)
}

/// The error for a blocking wait on the channel's own I/O thread, if this is one.
private func recursion(_ function: String, _ box: CallBox, _ timeoutMs: Int64) -> Int32? {
    guard timeoutMs != 0 else { return nil }
    return refuseBlockingOnLoop(function, onLoop: box.call.onLoopThread, hint: "; pass timeout_ms = 0")
}

@_cdecl("lbc_call_start")
public func lbc_call_start(_ ch: UnsafeMutableRawPointer?, _ method: UnsafePointer<CChar>?,
                           _ metadata: UnsafeRawPointer?, _ timeoutMs: Int64,
                           _ cq: UnsafeMutableRawPointer?, _ tag: UnsafeMutableRawPointer?,
                           _ out: UnsafeMutablePointer<UnsafeMutableRawPointer?>?) -> Int32 {
    guard let ch else { return fail(.invalidArgument, "lbc_call_start: ch is NULL") }
    guard let out else { return fail(.invalidArgument, "lbc_call_start: out is NULL", handle: ch) }
    guard let method else { return fail(.invalidArgument, "lbc_call_start: method is NULL", handle: ch) }
    let channel: Channel
    switch ChannelRegistry.lookup(ch, "lbc_call_start") {
    case .success(let found): channel = found
    case .failure(let error): return error.record()
    }
    let queueBox = cq.map { Handle.get($0, as: QueueBox.self) }
    if let error = queueBox?.origin.refuse("lbc_call_start", "completion queue", handle: ch) {
        return error.record()
    }
    let md = metadata.map { Handle.get($0, as: MetadataBox.self).metadata } ?? Metadata()
    let call: StreamCall
    do throws(RequestProblem) {
        call = try channel.streamCall(method: String(cString: method), metadata: md,
                                      timeoutMs: timeoutMs < 0 ? nil : timeoutMs,
                                      queue: queueBox?.queue, tag: UInt(bitPattern: tag))
    } catch {
        return requestError("lbc_call_start", error, ch).record()
    }
    channel.start(call)
    out.pointee = Handle.make(CallBox(call))
    return 0
}

@_cdecl("lbc_call_send")
public func lbc_call_send(_ c: UnsafeMutableRawPointer?, _ message: UnsafeRawPointer?, _ length: Int,
                          _ flags: UInt32, _ timeoutMs: Int64) -> Int32 {
    guard let c else { return fail(.invalidArgument, "lbc_call_send: call is NULL") }
    guard message != nil || length == 0 else {
        return fail(.invalidArgument, "lbc_call_send: message is NULL but len is \(length)")
    }
    guard length >= 0 else { return fail(.invalidArgument, "lbc_call_send: len is too large") }
    guard flags & ~1 == 0 else { return fail(.invalidArgument, "lbc_call_send: unknown flags 0x\(String(flags, radix: 16))") }
    let box: CallBox
    switch callBox(c, "lbc_call_send") {
    case .success(let found): box = found
    case .failure(let error): return error.record()
    }
    if let error = recursion("lbc_call_send", box, timeoutMs) { return error }
    switch box.call.send(UnsafeRawBufferPointer(start: message, count: length), end: flags & 1 != 0,
                         deadlineNs: deadline(timeoutMs)) {
    case .freed: return freedWhileWaiting("lbc_call_send")
    case .refused(let problem): return requestError("lbc_call_send", problem, nil).record()
    case .queued: return 0
    case .wouldBlock: return fail(.wouldBlock, "lbc_call_send: the send buffer is full")
    case .finished: return fail(.callFinished, "lbc_call_send: the call has finished; lbc_call_finish tells how")
    case .sendClosed: return fail(.sendClosed, "lbc_call_send: the send side was already closed")
    }
}

@_cdecl("lbc_call_close_send")
public func lbc_call_close_send(_ c: UnsafeMutableRawPointer?) -> Int32 {
    guard let c else { return fail(.invalidArgument, "lbc_call_close_send: call is NULL") }
    switch callBox(c, "lbc_call_close_send") {
    case .success(let box): box.call.closeSend()
    case .failure(let error): return error.record()
    }
    return 0
}

@_cdecl("lbc_call_recv")
public func lbc_call_recv(_ c: UnsafeMutableRawPointer?, _ timeoutMs: Int64,
                          _ message: UnsafeMutablePointer<UnsafeMutableRawPointer?>?,
                          _ length: UnsafeMutablePointer<Int>?) -> Int32 {
    guard let c else { return fail(.invalidArgument, "lbc_call_recv: call is NULL") }
    guard let message, let length else { return fail(.invalidArgument, "lbc_call_recv: message or len is NULL") }
    let box: CallBox
    switch callBox(c, "lbc_call_recv") {
    case .success(let found): box = found
    case .failure(let error): return error.record()
    }
    if let error = recursion("lbc_call_recv", box, timeoutMs) { return error }
    var copy: UnsafeMutableRawPointer?
    var count = 0
    let result = box.call.receive(deadlineNs: deadline(timeoutMs)) { bytes in
        // Copied before the message leaves the call: out of memory changes nothing.
        guard let p = malloc(max(bytes.count, 1)) else { return false }
        bytes.withUnsafeBytes { if let base = $0.baseAddress { p.copyMemory(from: base, byteCount: bytes.count) } }
        (copy, count) = (p, bytes.count)
        return true
    }
    switch result {
    case .taken:
        message.pointee = copy
        length.pointee = count
        return 0
    case .notTaken:
        return fail(.resource, "lbc_call_recv: out of memory (the message stays queued)")
    case .end:
        return 1
    case .wouldBlock:
        return fail(.wouldBlock, "lbc_call_recv: no message within the timeout")
    case .freed:
        return freedWhileWaiting("lbc_call_recv")
    }
}

@_cdecl("lbc_call_recv_into")
public func lbc_call_recv_into(_ c: UnsafeMutableRawPointer?, _ timeoutMs: Int64,
                               _ buffer: UnsafeMutableRawPointer?, _ capacity: Int,
                               _ length: UnsafeMutablePointer<Int>?) -> Int32 {
    guard let c else { return fail(.invalidArgument, "lbc_call_recv_into: call is NULL") }
    guard let length else { return fail(.invalidArgument, "lbc_call_recv_into: len is NULL") }
    guard buffer != nil || capacity == 0 else {
        return fail(.invalidArgument, "lbc_call_recv_into: buf is NULL with cap > 0")
    }
    let box: CallBox
    switch callBox(c, "lbc_call_recv_into") {
    case .success(let found): box = found
    case .failure(let error): return error.record()
    }
    if let error = recursion("lbc_call_recv_into", box, timeoutMs) { return error }
    var count = 0
    let result = box.call.receive(deadlineNs: deadline(timeoutMs)) { bytes in
        count = bytes.count
        // Too small: the message stays first in line and *len says how much room it needs.
        guard bytes.count <= capacity else { return false }
        if let buffer, !bytes.isEmpty {
            bytes.withUnsafeBytes { buffer.copyMemory(from: $0.baseAddress!, byteCount: bytes.count) }
        }
        return true
    }
    switch result {
    case .taken:
        length.pointee = count
        return 0
    case .notTaken:
        length.pointee = count
        return fail(.outOfRange, "lbc_call_recv_into: the next message has \(count) bytes, more than cap (\(capacity)); it stays queued")
    case .end:
        return 1
    case .wouldBlock:
        return fail(.wouldBlock, "lbc_call_recv_into: no message within the timeout")
    case .freed:
        return freedWhileWaiting("lbc_call_recv_into")
    }
}

/// LBC_ERR_CLOSED for a blocking function whose call another thread freed meanwhile.
private func freedWhileWaiting(_ function: String) -> Int32 {
    fail(.closed, "\(function): the call was freed (lbc_call_free) by another thread while this one waited")
}

@_cdecl("lbc_call_headers")
public func lbc_call_headers(_ c: UnsafeMutableRawPointer?, _ timeoutMs: Int64,
                             _ out: UnsafeMutablePointer<UnsafeRawPointer?>?) -> Int32 {
    guard let c else { return fail(.invalidArgument, "lbc_call_headers: call is NULL") }
    guard let out else { return fail(.invalidArgument, "lbc_call_headers: out is NULL") }
    let box: CallBox
    switch callBox(c, "lbc_call_headers") {
    case .success(let found): box = found
    case .failure(let error): return error.record()
    }
    if let error = recursion("lbc_call_headers", box, timeoutMs) { return error }
    guard box.call.waitForHeaders(deadlineNs: deadline(timeoutMs)) else {
        return fail(.wouldBlock, "lbc_call_headers: no response headers within the timeout")
    }
    if box.call.isDetached { return freedWhileWaiting("lbc_call_headers") }
    out.pointee = UnsafeRawPointer(Unmanaged.passUnretained(box.headers).toOpaque())
    return 0
}

@_cdecl("lbc_call_finish")
public func lbc_call_finish(_ c: UnsafeMutableRawPointer?, _ timeoutMs: Int64,
                            _ status: UnsafeMutablePointer<Int32>?,
                            _ message: UnsafeMutablePointer<UnsafePointer<CChar>?>?,
                            _ trailers: UnsafeMutablePointer<UnsafeRawPointer?>?) -> Int32 {
    guard let c else { return fail(.invalidArgument, "lbc_call_finish: call is NULL") }
    let box: CallBox
    switch callBox(c, "lbc_call_finish") {
    case .success(let found): box = found
    case .failure(let error): return error.record()
    }
    if let error = recursion("lbc_call_finish", box, timeoutMs) { return error }
    guard box.call.waitForEnd(deadlineNs: deadline(timeoutMs)) else {
        return fail(.wouldBlock, "lbc_call_finish: the call has not ended within the timeout")
    }
    if box.call.isDetached { return freedWhileWaiting("lbc_call_finish") }
    let (code, text, md) = box.outcome
    status?.pointee = code
    message?.pointee = text
    trailers?.pointee = UnsafeRawPointer(Unmanaged.passUnretained(md).toOpaque())
    return 0
}

@_cdecl("lbc_call_cancel")
public func lbc_call_cancel(_ c: UnsafeMutableRawPointer?) -> Int32 {
    guard let c else { return fail(.invalidArgument, "lbc_call_cancel: call is NULL") }
    switch callBox(c, "lbc_call_cancel") {
    case .success(let box): box.call.cancel()
    case .failure(let error): return error.record()
    }
    return 0
}

@_cdecl("lbc_call_set_events")
public func lbc_call_set_events(_ c: UnsafeMutableRawPointer?, _ events: UInt32) -> Int32 {
    guard let c else { return fail(.invalidArgument, "lbc_call_set_events: call is NULL") }
    let known = StreamCall.Event.readable | StreamCall.Event.writable | StreamCall.Event.headers
    guard events & ~(known | StreamCall.Event.done) == 0 else {
        return fail(.invalidArgument, "lbc_call_set_events: unknown bits 0x\(String(events & ~(known | StreamCall.Event.done), radix: 16))")
    }
    switch callBox(c, "lbc_call_set_events") {
    case .success(let box): box.call.setPostedEvents(events)
    case .failure(let error): return error.record()
    }
    return 0
}

@_cdecl("lbc_call_peer")
public func lbc_call_peer(_ c: UnsafeRawPointer?) -> UnsafePointer<CChar>? {
    guard let c else { return CString.empty.pointer }
    guard case .success(let box) = callBox(c, "lbc_call_peer") else { return CString.empty.pointer }
    return box.call.dispatchedPeer?.pointer ?? CString.empty.pointer
}

@_cdecl("lbc_call_attempts")
public func lbc_call_attempts(_ c: UnsafeRawPointer?) -> Int32 {
    guard let c else { return 0 }
    guard case .success(let box) = callBox(c, "lbc_call_attempts") else { return 0 }
    return Int32(box.call.dispatchedAttempts.count)
}

@_cdecl("lbc_call_attempt_peer")
public func lbc_call_attempt_peer(_ c: UnsafeRawPointer?, _ index: Int32) -> UnsafePointer<CChar>? {
    guard let c else { return nil }
    guard case .success(let box) = callBox(c, "lbc_call_attempt_peer") else { return nil }
    let peers = box.call.dispatchedAttempts
    return index >= 0 && Int(index) < peers.count ? peers[Int(index)].pointer : nil
}

@_cdecl("lbc_call_free")
public func lbc_call_free(_ c: UnsafeMutableRawPointer?) {
    guard let c else { return }
    let box = Handle.get(c, as: CallBox.self)
    guard box.origin.isCurrent else { return }   // the parent's call: leaked in a forked child
    box.call.detach()
    Handle.release(c, as: CallBox.self)
}
