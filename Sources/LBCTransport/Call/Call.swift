import LBCCore

/// What every RPC shares on the loop thread: its request line (method, metadata,
/// deadline), its place on an endpoint, and the response headers, trailers and
/// status as they arrive. `UnaryCall` and `StreamCall` add how messages move and
/// how the caller learns of the end.
///
/// Created on the caller's thread, handed to `Channel.start(_:)`, finished on the
/// loop thread exactly once (`Channel.finish`, which calls `complete`).
package class Call: @unchecked Sendable {
    // MARK: request (immutable)
    package let method: String
    /// The request metadata as header bytes, encoded on the caller's thread.
    let encodedMetadata: EncodedMetadata
    /// Absolute deadline (monotonic ns), nil for none.
    package let deadlineNs: Int64?
    /// The timeout the caller asked for, for messages.
    package let timeoutMs: Int64?
    let maxReceiveMessageSize: Int

    // MARK: loop-thread state
    /// The channel running the call (set by `Channel.start`, cleared when finished).
    var channel: Channel?
    /// When the call was put on an endpoint (monotonic ns), for latency stats.
    var dispatchedNs: Int64 = 0
    var streamID: Int32 = -1
    var connection: HTTP2Connection?
    var endpoint: Endpoint?
    var attempts = 0
    /// The deadline timer is in the loop's heap.
    var timerArmed = false
    var finished = false
    var httpStatus = 0
    var responseHeadersSeen = false
    var trailersOnly = false
    var grpcStatus: Int32?
    /// The grpc-status text when it was not a number.
    var invalidStatusText: String?
    /// The response's content-type when it is not application/grpc*.
    var nonGRPCContentType: String?
    /// Bytes of response header and trailer fields so far (RFC 9113 §6.5.2 sizes).
    var headerListBytes = 0
    var grpcMessage: String?
    var deframer: GRPCMessageDeframer
    var protocolError: (StatusCode, String)?

    // MARK: result (valid after completion)
    package internal(set) var status: StatusCode = .unknown
    package internal(set) var statusMessage = ""
    package var headers = Metadata()
    package var trailers = Metadata()
    /// Address of the endpoint that served the call (nil when none was picked).
    package var peerName: CString?
    package var peer: String { peerName?.string ?? "" }

    init(method: String, metadata: Metadata, timeoutMs: Int64?, maxReceiveMessageSize: Int) {
        self.method = method
        self.encodedMetadata = EncodedMetadata(metadata)
        self.timeoutMs = timeoutMs
        if let t = timeoutMs {
            let (ns, overflow) = t.multipliedReportingOverflow(by: 1_000_000)
            let (deadline, overflow2) = EventLoop.now().addingReportingOverflow(overflow ? Int64.max : ns)
            self.deadlineNs = (overflow || overflow2) ? nil : deadline
        } else {
            self.deadlineNs = nil
        }
        self.maxReceiveMessageSize = maxReceiveMessageSize
        self.deframer = GRPCMessageDeframer(maxMessageSize: maxReceiveMessageSize)
    }

    // MARK: hooks for the kinds of call (loop thread)

    /// The call entered the loop (its `LoopTask` ran).
    func enteredLoop() { channel?.admit(self) }

    /// A chunk of the response body arrived. Returns an error to reset the stream with.
    func receiveData(_ chunk: UnsafeRawBufferPointer, session: OpaquePointer, streamID: Int32) -> (StatusCode, String)? {
        fatalError("subclass")
    }

    /// nghttp2 asks for request body bytes: fill `buffer`, set EOF in `flags`, or
    /// return NGHTTP2_ERR_DEFERRED when nothing is queued yet.
    func readBody(into buffer: UnsafeMutablePointer<UInt8>, length: Int, flags: UnsafeMutablePointer<UInt32>) -> Int {
        fatalError("subclass")
    }

    /// The response HEADERS (not trailers-only) have been received in full.
    func responseHeadersComplete() {}

    /// The call was put on `endpoint` (its stream is open).
    func didDispatch() {}

    /// Transparent retries resend the request from the start; only calls that
    /// still hold all of it can do that.
    var canRetryTransparently: Bool { false }

    /// Record the final status and tell the caller. Loop thread, once.
    func complete(_ status: StatusCode, _ message: String) {
        self.status = status
        self.statusMessage = message
    }

    /// The error for an OK status that the call's shape does not allow (e.g. a unary
    /// call without a response message), or nil.
    func okStatusViolation() -> (StatusCode, String)? { nil }

    /// Forget everything received so far (before a transparent retry).
    func resetForRetry() {
        streamID = -1
        connection = nil
        httpStatus = 0
        responseHeadersSeen = false
        trailersOnly = false
        grpcStatus = nil
        invalidStatusText = nil
        nonGRPCContentType = nil
        headerListBytes = 0
        grpcMessage = nil
        protocolError = nil
        headers = Metadata()
        trailers = Metadata()
        deframer = GRPCMessageDeframer(maxMessageSize: maxReceiveMessageSize)
    }

    /// The gRPC status for a deframing error.
    static func status(for error: DeframeError) -> (StatusCode, String) {
        switch error {
        case .messageTooLarge(let size, let limit):
            return (.resourceExhausted, "received message larger than max (\(size) vs. \(limit))")
        case .compressedWithoutEncoding:
            return (.internalError, "received a compressed message but no compression was negotiated")
        case .invalidFlag(let flag):
            return (.internalError, "received a message with invalid flags \(flag)")
        }
    }
}
