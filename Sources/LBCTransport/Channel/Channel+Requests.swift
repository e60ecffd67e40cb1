import LBCCore

/// Calls are made here, after the request checks (``RequestCheck``): every API
/// that starts a call goes through these, so none can skip a check.
extension Channel {
    /// A unary call of `method` with `request` (copied), checked against the method
    /// rules and max_send_message_size. With a `queue`, its end is posted there with `tag`.
    package func unaryCall(method: String, request: UnsafeRawBufferPointer, metadata: Metadata,
                           timeoutMs: Int64?, queue: CompletionQueue? = nil,
                           tag: UInt = 0) throws(RequestProblem) -> UnaryCall {
        try RequestCheck.method(method)
        try RequestCheck.message(length: request.count, limit: options.maxSendMessageSize)
        return UnaryCall(method: method, request: request, metadata: metadata, timeoutMs: timeoutMs,
                         maxReceiveMessageSize: options.maxReceiveMessageSize, queue: queue, tag: tag,
                         owner: queue == nil ? nil : self)
    }

    /// A streaming call of `method` (its messages are checked as they are sent).
    package func streamCall(method: String, metadata: Metadata, timeoutMs: Int64?,
                            queue: CompletionQueue?, tag: UInt) throws(RequestProblem) -> StreamCall {
        try RequestCheck.method(method)
        return StreamCall(channel: self, method: method, metadata: metadata, timeoutMs: timeoutMs,
                          queue: queue, tag: tag)
    }
}
