import LBCCore
import LBCTransport

/// What a unary call needs once its arguments have been checked.
struct UnaryRequest {
    let channel: Channel
    let path: String
    let metadata: Metadata
    let request: UnsafeRawBufferPointer
    let timeoutMs: Int64?

    func makeCall(queue: CompletionQueue? = nil, tag: UInt = 0) -> UnaryCall {
        UnaryCall(method: path, request: request, metadata: metadata, timeoutMs: timeoutMs,
                  maxReceiveMessageSize: channel.options.maxReceiveMessageSize, queue: queue, tag: tag,
                  owner: queue == nil ? nil : channel)
    }
}

/// Check the arguments shared by lbc_unary and lbc_unary_async; an error code
/// (with the message recorded) on failure.
func checkUnary(_ function: String, _ ch: UnsafeMutableRawPointer?, _ method: UnsafePointer<CChar>?,
                _ request: UnsafeRawPointer?, _ requestLength: Int, _ metadata: UnsafeRawPointer?,
                _ timeoutMs: Int64) -> Result<UnaryRequest, CodedError> {
    guard let ch else { return .failure(CodedError(.invalidArgument, "\(function): ch is NULL")) }
    guard request != nil || requestLength == 0 else {
        return .failure(CodedError(.invalidArgument, "\(function): request is NULL but request_len is \(requestLength)", ch))
    }
    guard requestLength >= 0 else { return .failure(CodedError(.invalidArgument, "\(function): request_len is too large", ch)) }
    let channel: Channel, path: String
    switch checkMethod(function, ch, method) {
    case .success(let found): (channel, path) = found
    case .failure(let error): return .failure(error)
    }
    let limit = channel.options.maxSendMessageSize
    guard requestLength <= limit else {
        return .failure(CodedError(.messageTooLarge,
            "\(function): request of \(requestLength) bytes exceeds max_send_message_size (\(limit))", ch))
    }
    let md = metadata.map { Handle.get($0, as: MetadataBox.self).metadata } ?? Metadata()
    return .success(UnaryRequest(channel: channel, path: path, metadata: md,
                                 request: UnsafeRawBufferPointer(start: request, count: requestLength),
                                 timeoutMs: timeoutMs < 0 ? nil : timeoutMs))
}

/// Check a method name and find the live channel.
func checkMethod(_ function: String, _ ch: UnsafeMutableRawPointer, _ method: UnsafePointer<CChar>?)
    -> Result<(Channel, String), CodedError> {
    guard let method else { return .failure(CodedError(.invalidArgument, "\(function): method is NULL", ch)) }
    let path = String(cString: method)
    if let problem = MethodPath.problem(path) {
        return .failure(CodedError(.invalidArgument, "\(function): \(problem)", ch))
    }
    return ChannelRegistry.lookup(ch, function).map { ($0, path) }
}

@_cdecl("lbc_unary")
public func lbc_unary(_ ch: UnsafeMutableRawPointer?, _ method: UnsafePointer<CChar>?,
                      _ request: UnsafeRawPointer?, _ requestLength: Int,
                      _ metadata: UnsafeRawPointer?, _ timeoutMs: Int64,
                      _ out: UnsafeMutablePointer<UnsafeMutableRawPointer?>?) -> Int32 {
    guard let out else { return fail(.invalidArgument, "lbc_unary: out is NULL", handle: ch) }
    let unary: UnaryRequest
    switch checkUnary("lbc_unary", ch, method, request, requestLength, metadata, timeoutMs) {
    case .success(let checked): unary = checked
    case .failure(let error): return error.record()
    }
    if let error = refuseBlockingOnLoop("lbc_unary", onLoop: unary.channel.isLoopThread,
                                        hint: "; use lbc_unary_async", handle: ch) {
        return error
    }
    let call = unary.makeCall()
    unary.channel.start(call)
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
