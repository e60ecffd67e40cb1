import LBCCore
import LBCTransport

@_cdecl("lbc_unary")
public func lbc_unary(_ ch: UnsafeMutableRawPointer?, _ method: UnsafePointer<CChar>?,
                      _ request: UnsafeRawPointer?, _ requestLength: Int,
                      _ metadata: UnsafeRawPointer?, _ timeoutMs: Int64,
                      _ out: UnsafeMutablePointer<UnsafeMutableRawPointer?>?) -> Int32 {
    guard let ch else { return fail(.invalidArgument, "lbc_unary: ch is NULL") }
    guard let method else { return fail(.invalidArgument, "lbc_unary: method is NULL", handle: ch) }
    guard let out else { return fail(.invalidArgument, "lbc_unary: out is NULL", handle: ch) }
    guard request != nil || requestLength == 0 else {
        return fail(.invalidArgument, "lbc_unary: request is NULL but request_len is \(requestLength)", handle: ch)
    }
    guard requestLength >= 0 else { return fail(.invalidArgument, "lbc_unary: request_len is too large", handle: ch) }
    let path = String(cString: method)
    guard path.utf8.first == UInt8(ascii: "/"), path.utf8.count > 1 else {
        return fail(.invalidArgument, "lbc_unary: method \"\(path)\" must look like \"/package.Service/Method\"", handle: ch)
    }
    guard let channel = ChannelRegistry.lookup(ch) else {
        return fail(.closed, "lbc_unary: the channel is closed", handle: ch)
    }
    guard !channel.isLoopThread else {
        return fail(.recursiveCall, "lbc_unary: called from this channel's log callback (its I/O thread); "
                    + "a blocking call there would wait for itself", handle: ch)
    }
    let limit = channel.options.maxSendMessageSize
    guard requestLength <= limit else {
        return fail(.messageTooLarge,
                    "lbc_unary: request of \(requestLength) bytes exceeds max_send_message_size (\(limit))", handle: ch)
    }
    let md = metadata.map { Handle.get($0, as: MetadataBox.self).metadata } ?? Metadata()
    let call = UnaryCall(method: path, request: UnsafeRawBufferPointer(start: request, count: requestLength),
                         metadata: md, timeoutMs: timeoutMs < 0 ? nil : timeoutMs,
                         maxReceiveMessageSize: channel.options.maxReceiveMessageSize)
    channel.start(call)
    call.waitForCompletion()
    out.pointee = Handle.make(ResponseBox(call))
    return 0
}

@_cdecl("lbc_response_free")
public func lbc_response_free(_ resp: UnsafeMutableRawPointer?) {
    if let resp { Handle.release(resp, as: ResponseBox.self) }
}

@_cdecl("lbc_response_status")
public func lbc_response_status(_ resp: UnsafeRawPointer?) -> Int32 {
    guard let resp else { return StatusCode.invalidArgument.rawValue }
    return Handle.get(resp, as: ResponseBox.self).status
}

@_cdecl("lbc_response_message")
public func lbc_response_message(_ resp: UnsafeRawPointer?) -> UnsafePointer<CChar>? {
    guard let resp else { return nil }
    return Handle.get(resp, as: ResponseBox.self).messagePointer
}

@_cdecl("lbc_response_peer")
public func lbc_response_peer(_ resp: UnsafeRawPointer?) -> UnsafePointer<CChar>? {
    guard let resp else { return nil }
    return Handle.get(resp, as: ResponseBox.self).peerPointer
}

@_cdecl("lbc_response_data")
public func lbc_response_data(_ resp: UnsafeRawPointer?, _ length: UnsafeMutablePointer<Int>?) -> UnsafePointer<UInt8>? {
    guard let resp else {
        length?.pointee = 0
        return nil
    }
    let box = Handle.get(resp, as: ResponseBox.self)
    length?.pointee = box.dataLength
    return box.data.map { UnsafePointer($0) }
}

@_cdecl("lbc_response_headers")
public func lbc_response_headers(_ resp: UnsafeRawPointer?) -> UnsafeRawPointer? {
    guard let resp else { return nil }
    return UnsafeRawPointer(Unmanaged.passUnretained(Handle.get(resp, as: ResponseBox.self).headers).toOpaque())
}

@_cdecl("lbc_response_trailers")
public func lbc_response_trailers(_ resp: UnsafeRawPointer?) -> UnsafeRawPointer? {
    guard let resp else { return nil }
    return UnsafeRawPointer(Unmanaged.passUnretained(Handle.get(resp, as: ResponseBox.self).trailers).toOpaque())
}
