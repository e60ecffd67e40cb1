/// Why a request was refused before anything of it was sent (``RequestCheck``).
package enum RequestProblem: Error, Equatable, Sendable {
    /// The method path cannot be sent; the text says why (from ``MethodPath``).
    case invalidMethod(String)
    /// A message above max_send_message_size.
    case messageTooLarge(length: Int, limit: Int)

    /// Human-readable, without the name of the API function.
    package var message: String {
        switch self {
        case .invalidMethod(let text): return text
        case .messageTooLarge(let length, let limit):
            return "message of \(length) bytes exceeds max_send_message_size (\(limit))"
        }
    }
}
