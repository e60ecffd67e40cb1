import LBCCore

/// What hears of an internal stream (``InternalCall``): its response messages and its
/// end. Called on the loop thread.
package protocol InternalStreamDelegate: AnyObject {
    /// One response message (deframed) arrived.
    func internalStream(_ stream: InternalCall, received message: [UInt8])
    /// The stream ended with `status` (once; also after ``Channel/cancelInternalStream(_:)``).
    func internalStream(_ stream: InternalCall, endedWith status: StatusCode, message: String)
}

/// A stream the channel opens for itself on a chosen endpoint's connection (health
/// checking's `Health/Watch`): it bypasses the balancer and is no user call — it
/// counts in no endpoint's in-flight or started calls, latency average, balancer
/// load or outlier ejection, and is never retried on another endpoint.
///
/// The request is one message, sent with END_STREAM (server-streaming and unary
/// methods); the response goes through the same ``CallStateMachine`` as every call,
/// and each message is handed to the delegate as it is deframed. Loop thread only;
/// opened with ``Channel/openInternalStream(_:on:)``.
package final class InternalCall: Call, @unchecked Sendable {
    /// Length-prefixed request message.
    private let requestFrame: [UInt8]
    private var sendOffset = 0
    /// Strong: the delegate and its open stream hold each other until the stream
    /// ends (every stream ends: its connection's close finishes it at the latest).
    private let delegate: InternalStreamDelegate

    /// A stream for `method` with one request message and no deadline.
    package init(method: String, request: [UInt8], maxReceiveMessageSize: Int, delegate: InternalStreamDelegate) {
        var frame: [UInt8] = []
        frame.reserveCapacity(request.count + 5)
        request.withUnsafeBytes { GRPCFraming.appendFrame($0, to: &frame) }
        self.requestFrame = frame
        self.delegate = delegate
        super.init(method: method, metadata: Metadata(), timeoutMs: nil,
                   maxReceiveMessageSize: maxReceiveMessageSize, singleResponse: false)
    }

    override func readBody(into buffer: UnsafeMutablePointer<UInt8>, length: Int,
                           flags: UnsafeMutablePointer<UInt32>) -> Int {
        RequestFrameReader.read(requestFrame, offset: &sendOffset, into: buffer, length: length, flags: flags)
    }

    override func takeBody(_ count: Int, header: UnsafeRawBufferPointer, into queue: inout WriteQueue) -> Bool {
        queue.append(copying: header)
        RequestFrameReader.take(requestFrame, offset: &sendOffset, count: count, into: &queue)
        return true
    }

    override func receiveData(_ chunk: UnsafeRawBufferPointer, session: OpaquePointer,
                              streamID: Int32) -> UInt32? {
        // Messages are handed over at once: return the window at once.
        NGHTTP2Window.consume(session, streamID: streamID, count: chunk.count)
        switch machine.receivedData(chunk, deliver: { message in delegate.internalStream(self, received: message) }) {
        case .none: return nil
        case .resetStream(let code): return code
        }
    }

    override func complete(_ status: StatusCode, _ message: String) {
        super.complete(status, message)
        delegate.internalStream(self, endedWith: status, message: message)
    }

    override func resetForRetry() {
        super.resetForRetry()
        sendOffset = 0
    }
}
