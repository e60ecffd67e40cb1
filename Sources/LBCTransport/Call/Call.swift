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
    /// The call's method in the channel's ``MethodMetrics`` (set as it enters the
    /// loop); -1: not counted (internal streams, calls that never entered the loop).
    var methodKey: Int32 = -1
    /// When the call entered the loop (monotonic ns), the start of its call duration;
    /// -1 for what is no call of its own (a hedged copy: its parent is the call).
    var admittedNs: Int64 = -1
    /// When its current attempt started (monotonic ns); -1 while no attempt is open.
    var attemptStartNs: Int64 = -1
    var streamID: Int32 = -1
    var connection: HTTP2Connection?
    var endpoint: Endpoint?
    var attempts = 0
    /// The deadline timer is in the loop's heap.
    var timerArmed = false
    /// The caller's waiting thread watches the deadline (blocking unary calls): the
    /// loop arms no timer. Set before the call enters the loop.
    var deadlineWatchedByWaiter = false
    /// No blocking caller waits for the call (async, stream, internal): counted by the
    /// loop (`noteWaiterlessCall`) from its start until `Channel.finish`.
    var waiterless = false
    /// An asynchronous call whose completion queue's poller may lead the loop:
    /// counted by the loop (`noteQueuedCall`) from its start until `Channel.finish`.
    var queuedForPoller = false
    /// The call's retry decisions (nil: no retry policy; see Channel+Retry.swift).
    var retry: RetryState?
    /// The slot of the endpoint the previous attempt failed on (-1: none): the next
    /// pick avoids it when it can.
    var avoidSlot = -1
    /// Attempts before this one (sent as grpc-previous-rpc-attempts when > 0).
    var previousAttempts = 0
    /// The hedged copies of this call (unary calls with a hedging policy), or, on a
    /// copy, the group it belongs to.
    var hedge: HedgeGroup?
    /// Everything about the call's request and response and how it ends (I/O-free).
    var machine: CallStateMachine
    /// The call has ended (its status is set, its caller told).
    var finished: Bool { machine.isFinished }

    // MARK: result (valid after completion)
    package internal(set) var status: StatusCode = .unknown
    package internal(set) var statusMessage = ""
    /// Response headers (metadata only).
    package var headers: Metadata { machine.headers }
    /// Trailers (all metadata of a trailers-only response).
    package var trailers: Metadata { machine.trailers }
    /// Address of the endpoint that served the call (nil when none was picked).
    package var peerName: CString?
    package var peer: String { peerName?.string ?? "" }
    /// The endpoints of the attempts before the last one (retries, hedged copies),
    /// in order; empty for a call made once.
    package internal(set) var earlierPeers: [CString] = []
    /// Attempts the call made (retries and hedged copies included, transparent
    /// retries not): 0 when no endpoint was ever picked.
    package var attemptCount: Int { earlierPeers.count + (peerName == nil ? 0 : 1) }

    init(method: String, metadata: Metadata, timeoutMs: Int64?, maxReceiveMessageSize: Int, singleResponse: Bool) {
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
        self.machine = CallStateMachine(maxReceiveMessageSize: maxReceiveMessageSize, singleResponse: singleResponse,
                                        maxHeaderListBytes: HTTP2Connection.maxHeaderListSize)
    }

    /// A copy of `other`'s request line (a hedged copy): same method, metadata and
    /// absolute deadline.
    init(copyOf other: Call, singleResponse: Bool) {
        self.method = other.method
        self.encodedMetadata = other.encodedMetadata
        self.timeoutMs = other.timeoutMs
        self.deadlineNs = other.deadlineNs
        self.maxReceiveMessageSize = other.maxReceiveMessageSize
        self.machine = CallStateMachine(maxReceiveMessageSize: other.maxReceiveMessageSize, singleResponse: singleResponse,
                                        maxHeaderListBytes: HTTP2Connection.maxHeaderListSize)
    }

    // MARK: hooks for the kinds of call (loop thread)

    /// The call entered the loop (its `LoopTask` ran).
    func enteredLoop() { channel?.admit(self) }

    /// A chunk of the response body arrived. Returns an HTTP/2 code to reset the stream with.
    func receiveData(_ chunk: UnsafeRawBufferPointer, session: OpaquePointer, streamID: Int32) -> UInt32? {
        fatalError("subclass")
    }

    /// nghttp2 asks for request body bytes (at most `length`), set EOF in `flags`
    /// with the last ones, or return NGHTTP2_ERR_DEFERRED when nothing is queued yet.
    /// Fewer than ``WriteQueue/copyBelow`` bytes are copied into `buffer` (cheaper
    /// than a segment of their own); more are announced with NO_COPY and consumed by
    /// `takeBody`, which nghttp2 calls right after with the same count.
    func readBody(into buffer: UnsafeMutablePointer<UInt8>, length: Int, flags: UnsafeMutablePointer<UInt32>) -> Int {
        fatalError("subclass")
    }

    /// nghttp2 sends the next `count` body bytes (announced by `readBody`): queue the
    /// DATA frame's `header` (copied) and the bytes (without copying; see
    /// ``WriteQueue``) on the connection's write queue. False, queueing nothing, when
    /// the bytes are gone (the caller freed the call in between): nghttp2 then resets
    /// the stream instead of sending a frame it announced.
    func takeBody(_ count: Int, header: UnsafeRawBufferPointer, into queue: inout WriteQueue) -> Bool {
        fatalError("subclass")
    }

    /// Called by `Channel.start` on the caller's thread before the call enters the
    /// loop: true when the caller's thread will wait for the result in `loop.lead`
    /// and watch the deadline, so the loop arms no timer for it.
    func prepareWaiter(on loop: EventLoop) -> Bool { false }

    /// Called by `Channel.start` for a call without a waiting caller: true when its
    /// completion queue is bound to `loop` alone (``CompletionQueue/bind(_:)``), so
    /// a thread polling that queue may lead the loop for it.
    func bindQueue(to loop: EventLoop) -> Bool { false }

    /// The response HEADERS (not trailers-only) have been received in full.
    func responseHeadersComplete() {}

    /// The call was put on `endpoint` (its stream is open).
    func didDispatch() {}

    /// Record the final status and tell the caller. Loop thread, once.
    func complete(_ status: StatusCode, _ message: String) {
        self.status = status
        self.statusMessage = message
    }

    /// True when a retry policy may no longer resend the call (gRFC A6 commit):
    /// response headers arrived, or its request outgrew the retry buffer.
    func committedForRetry() -> Bool { machine.receivedResponseHeaders }

    /// The call still holds every request byte it sent (streams: within the retry buffer).
    func holdsWholeRequest() -> Bool { true }

    /// Forget everything received so far (before a transparent retry).
    func resetForRetry() {
        streamID = -1
        connection = nil
        machine.prepareForRetry()
    }
}
