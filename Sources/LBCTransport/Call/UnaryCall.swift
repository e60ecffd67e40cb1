import LBCCore

/// One unary RPC: its request, its progress on the loop thread, and its result.
///
/// Created on the caller's thread, handed to `Channel.start(_:)`, finished on the loop
/// thread; the caller reads the result after `waitForCompletion()` returns.
package final class UnaryCall: @unchecked Sendable {
    // MARK: request (immutable)
    package let method: String
    /// Length-prefixed request message.
    package let requestFrame: [UInt8]
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
    var sendOffset = 0
    var streamID: Int32 = -1
    var connection: HTTP2Connection?
    var endpoint: Endpoint?
    var attempts = 0
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
    package private(set) var status: StatusCode = .unknown
    package private(set) var statusMessage = ""
    package var response: [UInt8]?
    package var headers = Metadata()
    package var trailers = Metadata()
    /// Address of the endpoint that served the call (nil when none was picked).
    package var peerName: CString?
    package var peer: String { peerName?.string ?? "" }

    private let completion: Completion

    package init(method: String, request: UnsafeRawBufferPointer, metadata: Metadata,
                 timeoutMs: Int64?, maxReceiveMessageSize: Int) {
        self.method = method
        var frame: [UInt8] = []
        frame.reserveCapacity(request.count + 5)
        GRPCFraming.appendFrame(request, to: &frame)
        self.requestFrame = frame
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
        self.completion = Completion.forCurrentThread()
        completion.reset()
    }

    /// Block the calling thread until the call has finished. Must be called on the
    /// thread that created the call (its completion is that thread's reusable one).
    package func waitForCompletion() { completion.wait() }

    /// Record the final status and wake the waiting thread. Loop thread, once.
    func complete(_ status: StatusCode, _ message: String) {
        self.status = status
        self.statusMessage = message
        if status != .ok { response = nil }
        completion.signal()
    }

    /// Forget everything received so far (before a transparent retry).
    func resetForRetry() {
        sendOffset = 0
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
        response = nil
        headers = Metadata()
        trailers = Metadata()
        deframer = GRPCMessageDeframer(maxMessageSize: maxReceiveMessageSize)
    }
}
