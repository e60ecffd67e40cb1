import CLBCShim
import CNGHTTP2
import Glibc
import LBCCore

/// One HTTP/2 client connection to one endpoint: a non-blocking socket driven by the
/// event loop, a byte transport on it (plaintext h2c with prior knowledge, or TLS with
/// ALPN h2; see ``ByteTransport``) and an nghttp2 session fed with `mem_recv` /
/// drained with `mem_send`. Loop thread only.
package final class HTTP2Connection: FileDescriptorHandler {
    package enum State: Equatable {
        case connecting     // TCP connect (and the TLS handshake) in progress
        case handshaking    // TCP up, waiting for the server's SETTINGS
        case ready
        case draining       // GOAWAY received
        case closed
    }

    package let address: EndpointAddress
    package private(set) var state: State = .connecting
    /// The owner; it outlives its connections (it closes them all before it goes).
    /// Not weak: a weak reference would slow down every retain of the channel.
    package unowned(unsafe) var delegate: ConnectionDelegate?
    /// Open streams by id; the connection owns their calls until they close.
    var streams: [Int32: Call] = [:]
    /// Calls waiting for a stream slot (the server's SETTINGS_MAX_CONCURRENT_STREAMS),
    /// oldest first. Nothing of them is in nghttp2 yet, so one that ends while it
    /// waits is simply removed (nghttp2 would keep a queued request until a slot
    /// frees, which with a limit of 0 is never).
    private(set) var queued: [Call] = []
    /// The server's SETTINGS_MAX_CONCURRENT_STREAMS (nghttp2's assumption until SETTINGS).
    private var maxConcurrentStreams = 100

    let loop: EventLoop
    /// The settings this connection was made with.
    package let configuration: ConnectionConfiguration
    private let authority: CString
    private let userAgent: CString
    private let scheme: CString
    /// SETTINGS_INITIAL_WINDOW_SIZE: each stream's receive window.
    private let streamWindow: UInt32
    private var fd: Int32 = -1
    /// Plaintext or TLS; set once the TCP connection is up.
    private var transport: ByteTransport?
    /// The TLS transport, when this is a TLS connection (for its handshake figures).
    package private(set) var tlsTransport: TLSTransport?
    /// TLS may hold decrypted bytes the socket no longer signals: read until it blocks.
    private var readUntilBlocked = false
    /// Nothing has been read from the server yet (to recognise a TLS server's answer).
    private var nothingReadYet = true
    var session: OpaquePointer?
    /// What goes to the socket next: frames nghttp2 serialized and request bytes it
    /// sends without a copy (NO_COPY DATA; see ``WriteQueue`` and `NGHTTP2Callbacks.sendData`).
    var writeQueue = WriteQueue()
    /// A flush gathers up to this many bytes before writing them.
    static let writeBatchBytes = 256 * 1024
    private var watchingWrite = false
    private var connectTimer: ClosureTimer?
    /// Keepalive PINGs (see HTTP2Connection+Keepalive.swift); nil when off.
    var keepalive: KeepaliveStateMachine?
    /// The keepalive machine's one timer.
    var keepaliveTimer: ClosureTimer?
    /// When `start()` began connecting (for the TLS time-to-READY figure).
    private var startedNs: Int64 = 0
    /// Set while nghttp2 is calling back into us: teardown waits until it returns.
    private var inNGHTTP2 = false
    private var pendingFailure: String?
    /// The last protocol error nghttp2 reported, for failure messages.
    var protocolErrorText: String?
    /// Something may have been queued in nghttp2 since the last flush: set by every
    /// path that submits frames or feeds received bytes (which can queue replies),
    /// so that the per-iteration flush of idle connections costs one test.
    private var needsFlush = true {
        // The owner flushes only the connections that asked (a list, not a scan of
        // every connection), once per loop iteration.
        didSet { if needsFlush && !oldValue { delegate?.connectionNeedsFlush(self) } }
    }

    /// SETTINGS_MAX_HEADER_LIST_SIZE we advertise and enforce per response.
    static let maxHeaderListSize = 64 << 10
    /// The largest request header block nghttp2 sends (its default
    /// max_send_header_block_length); larger requests fail RESOURCE_EXHAUSTED.
    static let maxSendHeaderBlockSize = 64 << 10

    package init(address: EndpointAddress, loop: EventLoop, configuration: ConnectionConfiguration) {
        self.configuration = configuration
        self.streamWindow = UInt32(clamping: configuration.streamWindow)
        self.address = address
        self.loop = loop
        self.authority = CString(configuration.authority)
        self.userAgent = CString(configuration.userAgent)
        self.scheme = CString(configuration.scheme)
    }

    /// True when new streams may be opened (READY; calls beyond the server's
    /// MAX_CONCURRENT_STREAMS wait in `queued` until earlier ones finish).
    package var hasCapacity: Bool { state == .ready }

    // MARK: connecting

    /// Start the TCP connection (then the TLS handshake, then HTTP/2), all within the
    /// configuration's connect timeout; failures are reported through the delegate.
    package func start() {
        let connectTimeoutMs = configuration.connectTimeoutMs
        startedNs = EventLoop.now()
        do {
            let (fd, connected) = try Socket.connect(to: address)
            self.fd = fd
            try loop.register(fd: fd, events: LBCSHIM_EPOLLOUT, handler: self)
            watchingWrite = true
            connectTimer = loop.schedule(at: EventLoop.deadline(afterMs: connectTimeoutMs)) { [self] in
                guard self.state == .connecting || self.state == .handshaking else { return }
                self.fail(self.connectTimeoutReason(connectTimeoutMs))
            }
            if connected { socketConnected() }
        } catch {
            // Report asynchronously so the owner sees one code path.
            let reason = "\(address): \(error)"
            loop.schedule(at: 0) { [self] in fail(reason) }
        }
    }

    /// Why the connect timer fired: which phase did not finish in time.
    private func connectTimeoutReason(_ ms: Int64) -> String {
        if state == .connecting && tlsTransport != nil {
            return "connect timeout after \(ms) ms: the TLS handshake with \(address) did not finish"
        }
        if state == .handshaking {
            return "connect timeout after \(ms) ms: \(address) did not send its HTTP/2 SETTINGS"
        }
        return "connect timeout after \(ms) ms"
    }

    /// TCP is up: put the transport on the socket and set it up (TLS handshake).
    private func socketConnected() {
        if let tls = configuration.tls {
            do {
                let t = try TLSTransport(fd: fd, connector: tls, peer: address.description)
                tlsTransport = t
                transport = t
                readUntilBlocked = true
            } catch {
                fail(error.message)
                return
            }
        } else {
            transport = PlaintextTransport(fd: fd)
        }
        continueSetUp()
    }

    /// Step the transport's setup; start HTTP/2 when it is done.
    private func continueSetUp() {
        guard let transport else { return }
        switch transport.setUp(nowNs: EventLoop.now()) {
        case .ready:
            startHTTP2()
            // Records that arrived with the end of the TLS handshake (the server's
            // SETTINGS) are already off the socket: no epoll event will announce them.
            if readUntilBlocked && state == .handshaking { readAvailable() }
        case .wantRead:
            setWatchWrite(false)
        case .wantWrite:
            setWatchWrite(true)
        case .failed(let message):
            fail(message)
        }
    }

    private func startHTTP2() {
        state = .handshaking
        var s: OpaquePointer?
        let rv = nghttp2_session_client_new2(&s, NGHTTP2Callbacks.shared, Unmanaged.passUnretained(self).toOpaque(),
                                             NGHTTP2Callbacks.sessionOptions)
        guard rv == 0, let s else {
            fail("nghttp2_session_client_new: \(String(cString: nghttp2_strerror(rv)))")
            return
        }
        session = s
        var settings = [
            nghttp2_settings_entry(settings_id: Int32(NGHTTP2_SETTINGS_ENABLE_PUSH.rawValue), value: 0),
            nghttp2_settings_entry(settings_id: Int32(NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE.rawValue), value: streamWindow),
            nghttp2_settings_entry(settings_id: Int32(NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE.rawValue), value: UInt32(HTTP2Connection.maxHeaderListSize)),
        ]
        nghttp2_submit_settings(s, UInt8(NGHTTP2_FLAG_NONE.rawValue), &settings, settings.count)
        needsFlush = true
        nghttp2_session_set_local_window_size(s, UInt8(NGHTTP2_FLAG_NONE.rawValue), 0, 16 << 20)
        setWatchWrite(false)
        flush()
    }

    /// Called by the nghttp2 callbacks when a SETTINGS frame from the server arrives.
    func receivedSettings() {
        if let s = session {
            maxConcurrentStreams = Int(nghttp2_session_get_remote_settings(s, NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS))
        }
        guard state == .handshaking else {
            startQueuedStreams()  // the limit may have grown
            if state == .ready { delegate?.connectionSettingsChanged(self) }
            return
        }
        state = .ready
        if let t = connectTimer { loop.cancelTimer(t); connectTimer = nil }
        if configuration.keepalive != nil { startKeepalive() }
        tlsTransport?.connectionReady(afterNs: EventLoop.now() - startedNs)
        delegate?.connectionReady(self)
    }

    /// Called by the nghttp2 callbacks on GOAWAY.
    func receivedGoAway() {
        switch state {
        case .ready:
            state = .draining
            delegate?.connectionDraining(self)
            releaseQueued()
        case .handshaking:
            // Not usable yet: a failed connection attempt (retried with backoff).
            fail("\(address) sent GOAWAY before the connection was ready")
        case .connecting, .draining, .closed:
            break
        }
    }

    /// Stop taking new streams and close once the open ones have finished (the
    /// endpoint left the set). A connection that is not ready yet closes at once.
    package func drain() {
        switch state {
        case .ready:
            state = .draining
            releaseQueued()
            if streams.isEmpty { close(status: .unavailable, reason: nil) }
        case .connecting, .handshaking:
            state = .draining
            close(status: .unavailable, reason: nil)
        case .draining, .closed:
            break
        }
    }

    // MARK: events

    package func handleEvents(_ events: UInt32) {
        if state == .connecting {
            if transport != nil {
                continueSetUp()
                return
            }
            let err = Socket.pendingError(fd)
            if err != 0 {
                fail("connect to \(address): \(String(cString: strerror(err)))")
            } else if events & (LBCSHIM_EPOLLOUT | LBCSHIM_EPOLLERR | LBCSHIM_EPOLLHUP) != 0 {
                socketConnected()
            }
            return
        }
        if events & (LBCSHIM_EPOLLIN | LBCSHIM_EPOLLERR | LBCSHIM_EPOLLHUP) != 0 {
            readAvailable()
        }
        if state != .closed && events & LBCSHIM_EPOLLOUT != 0 && writeOutbound() {
            needsFlush = true  // nghttp2 may have more than the buffer held
            flush()
        }
    }

    private func readAvailable() {
        let buffer = loop.readBuffer
        while state != .closed, let transport {
            let n: Int?
            do {
                n = try transport.read(into: buffer)
            } catch {
                fail(readUntilBlocked ? error.message : "connection to \(address) lost: \(error)")
                return
            }
            guard let count = n else { return }  // EAGAIN
            if count == 0 {
                fail(state == .draining && streams.isEmpty ? nil : closedByServerReason())
                return
            }
            if nothingReadYet {
                nothingReadYet = false
                if !readUntilBlocked, TLSFailure.classify(firstBytes: UnsafeRawBufferPointer(start: buffer.baseAddress, count: min(count, 2))) == .tls {
                    fail("\(address) answered with TLS, not plaintext HTTP/2 (a TLS server on a plaintext channel? set the option \"tls\")")
                    return
                }
            }
            guard let s = session else { return }
            if keepalive != nil { keepalive!.receivedBytes(nowNs: EventLoop.now()) }
            inNGHTTP2 = true
            needsFlush = true  // replies (SETTINGS ACK, WINDOW_UPDATE, RST_STREAM) may be queued
            let rv = nghttp2_session_mem_recv(s, buffer.baseAddress!.assumingMemoryBound(to: UInt8.self), count)
            inNGHTTP2 = false
            if rv < 0 {
                fail("HTTP/2 error from \(address): \(String(cString: nghttp2_strerror(Int32(rv))))")
                return
            }
            if let reason = pendingFailure {
                pendingFailure = nil
                fail(reason)
                return
            }
            if count < buffer.count && !readUntilBlocked { return }
        }
    }

    /// Why the server's end of stream is a failure.
    private func closedByServerReason() -> String {
        if state == .handshaking && nothingReadYet && !readUntilBlocked {
            return "connection to \(address) closed by the server before it answered HTTP/2"
                + " (a TLS server on a plaintext channel? set the option \"tls\")"
        }
        if state == .handshaking, let tls = tlsTransport {
            return tls.closedAfterHandshakeReason
        }
        return "connection to \(address) closed by the server"
    }

    // MARK: streams

    /// Open a stream for `call`, or queue it until a stream slot frees (the server's
    /// MAX_CONCURRENT_STREAMS). Returns false when the connection cannot take it.
    func startStream(_ call: Call) -> Bool {
        guard state == .ready else { return false }
        if streams.count >= maxConcurrentStreams {
            queued.append(call)
            call.connection = self
            call.machine.dispatched(queued: true)
            return true
        }
        guard submit(call) else { return false }
        call.machine.dispatched(queued: false)
        return true
    }

    /// Hand `call`'s request to nghttp2 on a new stream.
    private func submit(_ call: Call) -> Bool {
        guard let s = session else { return false }
        if keepalive != nil && streams.isEmpty { keepaliveStreamStarting() }  // A8: PING before HEADERS
        var provider = nghttp2_data_provider()
        provider.source.ptr = Unmanaged.passUnretained(call).toOpaque()
        provider.read_callback = NGHTTP2Callbacks.readRequestBody
        let id = RequestHeaders.withFields(for: call, scheme: scheme, authority: authority, userAgent: userAgent) { nva, count in
            nghttp2_submit_request(s, nil, nva, count, &provider, Unmanaged.passUnretained(call).toOpaque())
        }
        needsFlush = true
        guard id > 0 else {
            if id == NGHTTP2_ERR_STREAM_ID_NOT_AVAILABLE.rawValue {
                // 2^30 streams used up: this connection can take no more; drain it
                // and let the owner open a fresh one, as after a GOAWAY.
                receivedGoAway()
            }
            return false
        }
        call.streamID = id
        call.connection = self
        streams[id] = call
        return true
    }

    /// Start queued calls while stream slots are free (a stream closed, or the
    /// server raised its limit).
    func startQueuedStreams() {
        while !queued.isEmpty && streams.count < maxConcurrentStreams && state == .ready {
            let call = queued.removeFirst()
            if submit(call) {
                call.machine.requestSubmitted()
            } else {
                call.connection = nil
                call.machine.unassigned()
                delegate?.streamClosed(self, call: call, errorCode: HTTP2ErrorCode.refusedStream, failure: nil)
            }
        }
    }

    /// Take a queued call off the queue (it ended while waiting for a slot).
    func removeQueued(_ call: Call) {
        if let i = queued.firstIndex(where: { $0 === call }) { queued.remove(at: i) }
        call.connection = nil
    }

    /// The connection takes no new streams: queued calls go back to the owner, which
    /// sends them elsewhere (nothing of them was sent).
    private func releaseQueued() {
        guard !queued.isEmpty else { return }
        let calls = queued
        queued.removeAll()
        for call in calls {
            call.connection = nil
            delegate?.streamClosed(self, call: call, errorCode: HTTP2ErrorCode.refusedStream, failure: nil)
        }
    }

    /// More request body is queued for a stream whose body source said "deferred".
    func resumeData(_ id: Int32) {
        guard let s = session, state != .closed else { return }
        nghttp2_session_resume_data(s, id)
        needsFlush = true
    }

    /// Reset a stream (deadline, cancellation, protocol error). The stream's close
    /// callback still fires; the call is expected to be finished already.
    func resetStream(_ id: Int32, errorCode: UInt32 = HTTP2ErrorCode.cancel) {
        guard let s = session, state != .closed else { return }
        nghttp2_submit_rst_stream(s, UInt8(NGHTTP2_FLAG_NONE.rawValue), id, errorCode)
        needsFlush = true
    }

    /// The application took `count` bytes of stream `id`'s data: return that much of
    /// the stream's window (see `StreamReceiveWindow`).
    func consumeStreamWindow(_ id: Int32, count: Int) {
        guard let s = session, state != .closed else { return }
        NGHTTP2Window.consumeStream(s, streamID: id, count: count)
        needsFlush = true
    }

    // MARK: writing

    /// The last open stream closed: give back a send buffer that large messages grew,
    /// so an idle connection returns to its idle footprint (a busy one keeps it).
    func streamsBecameIdle() {
        writeQueue.shrink()
    }

    /// Serialize everything nghttp2 has queued and write it. Called once per loop
    /// iteration. The frames are gathered into the write queue first (nghttp2 hands
    /// them out one at a time; DATA payloads are borrowed, not copied), so the
    /// requests of several calls go out in one write (`sendmsg` with an iovec).
    package func flush() {
        guard needsFlush, let s = session, state != .closed, state != .connecting else { return }
        if !writeQueue.isEmpty { return }  // waiting for EPOLLOUT
        needsFlush = false
        // Fast path (every connection is flushed on every iteration): nothing queued,
        // nothing to finish.
        if nghttp2_session_want_write(s) != 0 || pendingFailure != nil || state == .draining
            || nghttp2_session_want_read(s) == 0 {
            flushSlow(s)
        }
    }

    private func flushSlow(_ s: OpaquePointer) {
        while true {
            while writeQueue.byteCount < Self.writeBatchBytes {
                var ptr: UnsafePointer<UInt8>?
                inNGHTTP2 = true
                let n = nghttp2_session_mem_send(s, &ptr)  // NO_COPY DATA goes through sendData
                inNGHTTP2 = false
                if n < 0 {
                    fail("HTTP/2 error: \(String(cString: nghttp2_strerror(Int32(n))))")
                    return
                }
                if n == 0 { break }
                writeQueue.append(copying: UnsafeRawBufferPointer(start: ptr!, count: n))
            }
            if writeQueue.isEmpty { break }
            guard writeOutbound() else {  // blocked (EPOLLOUT armed) or failed
                needsFlush = true
                return
            }
        }
        if let reason = pendingFailure {
            pendingFailure = nil
            fail(reason)
            return
        }
        if state == .draining && streams.isEmpty {
            fail(nil)
        } else if nghttp2_session_want_read(s) == 0 && nghttp2_session_want_write(s) == 0 {
            // nghttp2 ended the session (a protocol error, or the server's GOAWAY).
            let detail = protocolErrorText.map { ": \($0)" } ?? ""
            if state == .handshaking {
                fail("\(address) did not answer as an HTTP/2 server\(detail)")
            } else {
                fail(streams.isEmpty && protocolErrorText == nil ? nil
                     : "HTTP/2 session with \(address) ended\(detail)")
            }
        }
    }

    /// Write the queued bytes. True when everything was written (the queue is then
    /// empty); false when the socket is full (EPOLLOUT is armed) or the connection failed.
    private func writeOutbound() -> Bool {
        guard let transport else { return false }
        do throws(TransportError) {
            var failure: TransportError?
            let empty = writeQueue.write { vectors in
                do throws(TransportError) {
                    return try transport.write(vectors: vectors)
                } catch {
                    failure = error
                    return nil
                }
            }
            if let failure { throw failure }
            guard empty else {
                setWatchWrite(true)
                return false
            }
            // TLS records the socket did not take yet.
            guard try transport.flushBuffered() else {
                setWatchWrite(true)
                return false
            }
        } catch {
            fail(readUntilBlocked ? error.message : "connection to \(address) lost: \(error)")
            return false
        }
        setWatchWrite(false)
        return true
    }

    /// Something was queued in nghttp2 outside the paths above (a keepalive PING).
    func requestFlush() {
        needsFlush = true
    }

    private func setWatchWrite(_ on: Bool) {
        guard on != watchingWrite, fd >= 0 else { return }
        watchingWrite = on
        loop.modify(fd: fd, events: LBCSHIM_EPOLLIN | (on ? LBCSHIM_EPOLLOUT : 0))
    }

    // MARK: teardown

    /// Close the connection. With a reason, open streams fail UNAVAILABLE and the
    /// delegate hears of a failure or loss; without one it is a clean close.
    package func fail(_ reason: String?) {
        close(status: .unavailable, reason: reason)
    }

    /// Close the connection, finishing open streams with `status` and `reason`.
    package func close(status: StatusCode, reason: String?) {
        if state == .closed { return }
        if inNGHTTP2 {
            pendingFailure = reason ?? "connection closed"
            return
        }
        let previous = state
        state = .closed
        if let t = connectTimer { loop.cancelTimer(t); connectTimer = nil }
        if keepalive != nil { stopKeepalive() }
        if fd >= 0 {
            transport?.shutDown()
            transport = nil
            tlsTransport = nil  // frees the SSL object now, not with the connection
            loop.unregister(fd: fd)
            lbcshim_fd_close(fd)
            fd = -1
        }
        let open = streams
        streams.removeAll()
        if let s = session {
            nghttp2_session_del(s)
            session = nil
        }
        writeQueue.removeAll()  // lets go of borrowed request bytes
        let message = reason ?? "connection closed"
        for (_, call) in open {
            delegate?.streamClosed(self, call: call, errorCode: HTTP2ErrorCode.noError, failure: (status, message))
        }
        switch previous {
        case .connecting, .handshaking:
            delegate?.connectionFailed(self, reason: message)
        case .ready:
            delegate?.connectionLost(self, reason: message)
        case .draining:
            delegate?.connectionClosed(self)
        case .closed:
            break
        }
        releaseQueued()  // after the owner knows this connection is gone
    }
}
