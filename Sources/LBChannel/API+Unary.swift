import LBCCore
import LBCTransport

/// Check the C arguments shared by lbc_unary and lbc_unary_async and make the call
/// (the channel runs the request checks); an error on failure.
func checkUnary(_ function: String, _ ch: UnsafeMutableRawPointer?, _ method: UnsafePointer<CChar>?,
                _ request: UnsafeRawPointer?, _ requestLength: Int, _ metadata: UnsafeRawPointer?,
                _ timeoutMs: Int64, queue: CompletionQueue? = nil,
                tag: UInt = 0) -> Result<(Channel, UnaryCall), CodedError> {
    guard let ch else { return .failure(CodedError(.invalidArgument, "\(function): ch is NULL")) }
    guard request != nil || requestLength == 0 else {
        return .failure(CodedError(.invalidArgument, "\(function): request is NULL but request_len is \(requestLength)", ch))
    }
    guard requestLength >= 0 else { return .failure(CodedError(.invalidArgument, "\(function): request_len is too large", ch)) }
    guard let method else { return .failure(CodedError(.invalidArgument, "\(function): method is NULL", ch)) }
    let channel: Channel
    switch ChannelRegistry.lookup(ch, function) {
    case .success(let found): channel = found
    case .failure(let error): return .failure(error)
    }
    let md = metadata.map { Handle.get($0, as: MetadataBox.self).metadata } ?? Metadata()
    do throws(RequestProblem) {
        let call = try channel.unaryCall(method: String(cString: method),
                                         request: UnsafeRawBufferPointer(start: request, count: requestLength),
                                         metadata: md, timeoutMs: timeoutMs < 0 ? nil : timeoutMs,
                                         queue: queue, tag: tag)
        return .success((channel, call))
    } catch {
        return .failure(requestError(function, error, ch))
    }
}

/// The C error for a request the channel refused.
func requestError(_ function: String, _ problem: RequestProblem, _ ch: UnsafeRawPointer?) -> CodedError {
    switch problem {
    case .invalidMethod: return CodedError(.invalidArgument, "\(function): \(problem.message)", ch)
    case .messageTooLarge: return CodedError(.messageTooLarge, "\(function): \(problem.message)", ch)
    }
}

@_cdecl("lbc_unary")
public func lbc_unary(_ ch: UnsafeMutableRawPointer?, _ method: UnsafePointer<CChar>?,
                      _ request: UnsafeRawPointer?, _ requestLength: Int,
                      _ metadata: UnsafeRawPointer?, _ timeoutMs: Int64,
                      _ out: UnsafeMutablePointer<UnsafeMutableRawPointer?>?) -> Int32 {
    guard let out else { return fail(.invalidArgument, "lbc_unary: out is NULL", handle: ch) }
    let channel: Channel, call: UnaryCall
    switch checkUnary("lbc_unary", ch, method, request, requestLength, metadata, timeoutMs) {
    case .success(let checked): (channel, call) = checked
    case .failure(let error): return error.record()
    }
    if let error = refuseBlockingOnLoop("lbc_unary", onLoop: channel.isLoopThread,
                                        hint: "; use lbc_unary_async", handle: ch) {
        return error
    }
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

@_cdecl("lbc_response_attempts")
public func lbc_response_attempts(_ resp: UnsafeRawPointer?) -> Int32 {
    guard let resp else { return 0 }
    return Int32(Handle.get(resp, as: ResponseBox.self).attempts)
}

@_cdecl("lbc_response_attempt_peer")
public func lbc_response_attempt_peer(_ resp: UnsafeRawPointer?, _ index: Int32) -> UnsafePointer<CChar>? {
    guard let resp else { return nil }
    return Handle.get(resp, as: ResponseBox.self).attemptPeer(Int(index))
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
