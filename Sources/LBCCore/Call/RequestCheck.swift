/// The checks every request passes before anything of it is sent, whatever API
/// started it (the C functions, a binding, a test): the channel runs them when it
/// makes a call (`Channel.unaryCall`, `Channel.streamCall`) and a streaming call
/// when it queues a message, so no entry point can skip them.
///
/// ```swift
/// try RequestCheck.method("/pkg.Svc/Do")                    // fine
/// try RequestCheck.message(length: 5000, limit: 4096)       // throws .messageTooLarge
/// ```
package enum RequestCheck {
    /// The method path must be sendable (see ``MethodPath``).
    package static func method(_ path: String) throws(RequestProblem) {
        if let problem = MethodPath.problem(path) { throw .invalidMethod(problem) }
    }

    /// A message of `length` bytes must fit `limit` (max_send_message_size).
    @inline(__always)
    package static func message(length: Int, limit: Int) throws(RequestProblem) {
        if length > limit { throw .messageTooLarge(length: length, limit: limit) }
    }
}
