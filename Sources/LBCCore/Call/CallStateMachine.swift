/// The life of one RPC as the client sees it, without I/O: where its request is
/// (waiting for an endpoint, queued behind the server's stream limit, handed to
/// HTTP/2, refused before it was sent), what of the response has arrived (header
/// blocks, messages, trailers, a reset), and how it ends. Unary and streaming calls
/// share it, so one set of rules decides every outcome:
///
/// - Informational (1xx) header blocks are skipped; the next block is the response.
/// - A response header block without `:status`, a second header block without
///   END_STREAM, DATA before the response headers: a malformed response, INTERNAL
///   with a message naming what was wrong (gRPC: protocol errors are INTERNAL).
/// - The body is read as gRPC messages only when the response is a gRPC response
///   (`:status` 200 and `content-type: application/grpc…`; a trailers-only response
///   may omit the content-type). Anything else ends with the grpc-status the server
///   sent if it is an error, else with the HTTP status mapping
///   (`HTTPStatusMapping`: 200 with a foreign content-type → UNKNOWN) — never OK,
///   so no message is ever dropped under an OK status.
/// - A call never ends OK with a partial message, or (unary) with zero or several
///   messages.
/// - Resets: one the server sent (RST_STREAM received) is reported as the
///   server's; one the client's own HTTP/2 session made (the peer broke flow
///   control or HTTP rules) as the client's, INTERNAL; a request HTTP/2 could not
///   send (header block above 64 KiB) fails RESOURCE_EXHAUSTED without a retry.
/// - Transparent retry (gRFC A6): a call whose request never left the client
///   (queued, or refused by its own session because of GOAWAY), or that the
///   server refused (REFUSED_STREAM, GOAWAY not covering it) before any response
///   header, is retried — the latter once, and only by calls that still hold their
///   whole request (unary calls always; streaming calls while their request fits
///   the retry buffer, see `streamClosed(errorCode:atStreamLimit:requestRetained:)`).
///
/// A flat struct (a phase enum per direction plus the fields every phase uses)
/// rather than an enum with per-state payloads: it is mutated in place inside its
/// call on every header field and DATA chunk, and moving payloads between enum
/// cases would copy the metadata and the deframer's buffer.
///
/// Threads: the owner's (the I/O thread). Once `finish()` returned true no event
/// changes it any more, so the caller's thread may read `headers` and `trailers`.
///
/// ```swift
/// var m = CallStateMachine(maxReceiveMessageSize: 4 << 20, singleResponse: true)
/// m.requestSubmitted()
/// m.headerBlockStarted(endStream: false)
/// _ = m.receivedHeaderField(name: ":status", value: "200")       // (raw buffers)
/// _ = m.receivedHeaderField(name: "content-type", value: "application/grpc")
/// m.headerBlockEnded()                                          // .publishHeaders
/// m.receivedData(chunk) { message in … }                        // .none
/// m.headerBlockStarted(endStream: true)
/// _ = m.receivedHeaderField(name: "grpc-status", value: "0")
/// m.headerBlockEnded()                                          // .none
/// m.streamClosed(errorCode: 0)                                  // .finish(.ok, "")
/// ```
package struct CallStateMachine {
    /// Where the request is.
    package enum RequestState: UInt8, Sendable {
        /// On no connection: not admitted yet, or waiting for a READY endpoint.
        case unassigned
        /// On a connection, waiting for a stream slot (the server's
        /// SETTINGS_MAX_CONCURRENT_STREAMS): nothing has been sent.
        case queued
        /// Handed to HTTP/2 on an open stream.
        case submitted
        /// HTTP/2 could not send its HEADERS: nothing reached the server.
        case notSent
    }

    /// What of the response has arrived.
    package enum ResponseState: UInt8, Sendable {
        /// No header block yet (or only informational ones).
        case awaitingHeaders
        /// Reading a header block that is not informational so far.
        case readingHeaders
        /// Reading a 1xx header block: its fields are ignored.
        case readingInformational
        /// The response headers are in: messages may arrive.
        case open
        /// Reading the trailers.
        case readingTrailers
        /// The response ended (trailers, a trailers-only response, or a malformed one).
        case ended
    }

    /// Why HTTP/2 did not send a request's HEADERS.
    package enum NotSentReason: Sendable, Equatable {
        /// The header block is larger than HTTP/2 may send (`headerListBytes` counted
        /// as RFC 9113 §6.5.2 does; `limitBytes` is the encoder's limit).
        case headerBlockTooLarge(headerListBytes: Int, limitBytes: Int)
        /// The connection takes no new streams (GOAWAY): the server never saw it.
        case connectionNotAccepting
        /// The client cancelled it while it was queued.
        case cancelled
        /// Any other local failure, described.
        case failed(String)
    }

    /// What the owner does after a header field.
    package enum FieldAction: Equatable, Sendable {
        case none
        /// Refuse the header block: the stream is reset (the outcome is recorded).
        case rejectHeaderBlock
    }

    /// What the owner does after a header block.
    package enum BlockAction: Equatable, Sendable {
        case none
        /// The response headers are complete: show them to the caller.
        case publishHeaders
        /// The response is malformed: reset the stream with this HTTP/2 code.
        case resetStream(UInt32)
    }

    /// What the owner does after a DATA chunk.
    package enum DataAction: Equatable, Sendable {
        case none
        /// Reset the stream with this HTTP/2 code (the outcome is recorded).
        case resetStream(UInt32)
    }

    /// What the owner does when the call ends locally (deadline, cancellation)
    /// before its stream closed.
    package enum AbandonAction: Equatable, Sendable {
        /// Nothing is anywhere to undo.
        case none
        /// Take it off the channel's list of calls waiting for an endpoint.
        case leaveWaitingList
        /// Take it off its connection's queue: no stream exists, nothing was sent,
        /// and nothing will report its end (remove it now).
        case leaveConnectionQueue
        /// Reset its stream (RST_STREAM CANCEL).
        case resetStream
    }

    /// How the call goes on once its stream closed.
    package enum CloseAction: Equatable, Sendable {
        /// End the call with this status.
        case finish(StatusCode, String)
        /// Send it again from the start (the server never processed it).
        case retryTransparently
    }

    // MARK: configuration
    /// Largest accepted message.
    package let maxReceiveMessageSize: Int
    /// Unary: exactly one response message.
    package let singleResponse: Bool
    /// The call still holds its whole request once it was sent (unary calls), so
    /// it may be retried after the server refused its stream.
    package let canResendRequest: Bool
    /// SETTINGS_MAX_HEADER_LIST_SIZE: bytes of response header and trailer fields.
    package let maxHeaderListBytes: Int

    // MARK: state
    package internal(set) var request = RequestState.unassigned
    package internal(set) var response = ResponseState.awaitingHeaders
    /// The outcome was delivered (`finish()`): nothing changes any more.
    package internal(set) var isFinished = false
    /// Transparent retries after a refusal by the server so far.
    package internal(set) var serverRefusalRetries = 0
    /// The header block being read has END_STREAM.
    var blockEndsStream = false
    /// `:status` of the header block being read (-1: none yet, 0: not a number).
    var blockStatus = -1
    /// Response headers that are not a trailers-only response arrived: a retry
    /// policy's call is committed (gRFC A6).
    package internal(set) var receivedResponseHeaders = false
    /// The final response's HTTP status (0 until the response headers are in).
    package internal(set) var httpStatus = 0
    /// The response's content-type when it is not application/grpc…, or "" when absent.
    package internal(set) var foreignContentType: String? = ""
    package internal(set) var grpcStatus: Int32?
    /// The grpc-status text when it was not a number.
    var invalidStatusText: String?
    var grpcMessage: String?
    /// Bytes of response header and trailer fields so far (RFC 9113 §6.5.2 sizes).
    var headerListBytes = 0
    /// The body is gRPC messages (decided with the response headers).
    package internal(set) var readsMessages = false
    var deframer: GRPCMessageDeframer
    package internal(set) var messagesReceived = 0
    /// An RST_STREAM the server sent, by code.
    package internal(set) var remoteResetCode: UInt32?
    /// An outcome decided before the stream closed (malformed response, local refusal).
    package internal(set) var failure: (StatusCode, String)?
    /// Response header fields (metadata only).
    package var headers = Metadata()
    /// Trailer fields (all metadata of a trailers-only response).
    package var trailers = Metadata()

    /// A machine for one call. `singleResponse`: unary (exactly one message);
    /// `canResendRequest`: the call keeps its request after sending it.
    package init(maxReceiveMessageSize: Int, singleResponse: Bool, canResendRequest: Bool? = nil,
                 maxHeaderListBytes: Int = 64 << 10) {
        self.maxReceiveMessageSize = maxReceiveMessageSize
        self.singleResponse = singleResponse
        self.canResendRequest = canResendRequest ?? singleResponse
        self.maxHeaderListBytes = maxHeaderListBytes
        self.deframer = GRPCMessageDeframer(maxMessageSize: maxReceiveMessageSize)
    }

    // MARK: request side

    /// The call was put on a connection: `queued` behind its stream limit, or
    /// handed to HTTP/2 at once.
    package mutating func dispatched(queued: Bool) {
        request = queued ? .queued : .submitted
    }

    /// A queued call was handed to HTTP/2 (a stream slot became free).
    package mutating func requestSubmitted() {
        request = .submitted
    }

    /// The call is off any connection again (waiting for an endpoint).
    package mutating func unassigned() {
        request = .unassigned
    }

    /// HTTP/2 did not send the request's HEADERS (its stream closes next).
    package mutating func requestNotSent(_ reason: NotSentReason) {
        guard !isFinished, request == .submitted else { return }
        request = .notSent
        switch reason {
        case let .headerBlockTooLarge(bytes, limit):
            recordFailure(.resourceExhausted,
                          "request headers too large to send: \(bytes) bytes of header fields, more than the "
                          + "\(limit)-byte HTTP/2 header block limit (not sent, not retried)")
        case .connectionNotAccepting, .cancelled:
            break
        case .failed(let text):
            recordFailure(.internalError, "could not send the request headers: \(text)")
        }
    }

    /// The call ends locally (deadline, cancellation) while it is not finished:
    /// what to undo.
    package mutating func abandon() -> AbandonAction {
        switch request {
        case .unassigned: return .leaveWaitingList
        case .queued:
            request = .unassigned
            return .leaveConnectionQueue
        case .submitted: return .resetStream
        case .notSent: return .none
        }
    }

    /// Mark the outcome delivered. False when it already was (deliver it once).
    package mutating func finish() -> Bool {
        if isFinished { return false }
        isFinished = true
        return true
    }

    /// Forget the response (before a transparent retry); the request starts over.
    package mutating func prepareForRetry() {
        self = CallStateMachine(retrying: self)
    }

    private init(retrying old: CallStateMachine) {
        self.init(maxReceiveMessageSize: old.maxReceiveMessageSize, singleResponse: old.singleResponse,
                  canResendRequest: old.canResendRequest, maxHeaderListBytes: old.maxHeaderListBytes)
        serverRefusalRetries = old.serverRefusalRetries
    }

    // MARK: helpers

    /// Record the first failure (later ones are consequences of it).
    mutating func recordFailure(_ status: StatusCode, _ message: String) {
        if failure == nil { failure = (status, message) }
    }

    /// True once any response header block was accepted.
    package var sawResponseHeaders: Bool {
        response != .awaitingHeaders || httpStatus != 0
    }
}
