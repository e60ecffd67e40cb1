import LBCCore

/// Why a channel could not be opened.
package enum ChannelError: Error, CustomStringConvertible {
    case system(SystemError)
    /// The resolver could not be set up (bad DNS server, c-ares failure).
    case resolver(String)
    /// Eager resolution found no endpoint in time.
    case resolutionTimeout(String)

    package var description: String {
        switch self {
        case .resolver(let m), .resolutionTimeout(let m): return m
        case .system(let e): return "cannot start the channel's I/O thread: \(e)"
        }
    }
}

/// Where a channel's endpoints come from.
package enum EndpointSource: Sendable {
    /// A fixed list (ipv4:, ipv6:, unix: targets); `lbc_channel_set_endpoints` may replace it.
    case fixed([EndpointAddress])
    /// DNS through c-ares, re-resolved on the discovery schedule.
    case dns(server: String?, host: String, port: UInt16)
    /// A caller-supplied lookup function, called on the discovery schedule off the I/O thread.
    case lookup(LookupFunction)
    /// No discovery: endpoints arrive only through `setEndpoints`.
    case manual
}

/// Severity of a log line.
package enum LogLevel: Int32, Sendable {
    case debug = 0, info = 1, warning = 2, error = 3
}

/// A log sink; called on the channel's I/O thread.
package typealias LogFunction = @Sendable (LogLevel, String) -> Void

/// A load-balanced channel: endpoints, their connections, the picker, discovery and
/// the RPCs waiting for an endpoint. Public methods may be called from any thread;
/// all state lives on the channel's event-loop thread.
///
/// ```swift
/// let channel = try Channel(source: .fixed([.ipv4(host: "127.0.0.1", port: 50051)]),
///                           targetText: "ipv4:127.0.0.1:50051", options: ChannelOptions())
/// let call = UnaryCall(method: "/pkg.Svc/M", request: bytes, metadata: Metadata(),
///                      timeoutMs: 1000, maxReceiveMessageSize: channel.options.maxReceiveMessageSize)
/// channel.start(call)
/// call.waitForCompletion()
/// channel.close()
/// ```
package final class Channel: @unchecked Sendable {
    package let options: ChannelOptions
    package let targetText: String
    let loop: EventLoop
    let log: LogFunction?
    var endpoints: [Endpoint] = []
    /// Endpoints removed from the set whose connections are still finishing RPCs.
    var retired: [Endpoint] = []
    /// The policy's balancer; endpoints are known to it by slot (`slots`).
    var balancer: any LoadBalancer
    /// The endpoint in each balancer slot (nil: free).
    var slots: [Endpoint?] = []
    /// Free slots, reused before new ones.
    var freeSlots: [Int] = []
    /// The id subsetting hashes (option subset_client_id, else random).
    let subsetClientID: UInt64
    /// How many endpoints the last update offered before subsetting.
    var discoveredEndpoints = 0
    /// Connections with frames to send, flushed after each loop iteration.
    var flushList: [HTTP2Connection] = []
    /// RPCs waiting for a READY endpoint, oldest first.
    var waiting: [Call] = []
    /// Retry and hedging state (see Channel+Retry.swift).
    let retries: ChannelRetries
    var isShutDown = false

    // Discovery (loop thread).
    var resolver: Resolver?
    /// Calls into the application's log and lookup callbacks (see ``CallbackGate``).
    let callbacks: CallbackGate
    /// The lookup resolver, if any, readable from any thread (to recognise its thread).
    let lookupWorker: LookupResolver?
    var scheduler: DiscoveryScheduler
    var discoveryTimer: ClosureTimer?
    var stats = DiscoveryStats()
    /// Per-method attempt and call counts and latency histograms (Channel+Metrics.swift).
    var methodMetrics = MethodMetrics()
    /// Signalled when the endpoint set first becomes non-empty (eager resolution waits for it).
    let firstEndpoints = Completion()
    /// TLS for every connection; nil for plaintext (see Channel+TLS.swift).
    let tls: ChannelTLS?
    /// Keepalive settings for new connections; the time doubles on "too_many_pings"
    /// (see Channel+Keepalive.swift). Loop thread.
    lazy var keepalivePolicy = KeepalivePolicy(options: options)
    /// The channel's connectivity state and its watches (any thread).
    package let connectivity: ConnectivityFeed

    package init(source: EndpointSource, targetText: String, options: ChannelOptions,
                 log: LogFunction? = nil, tls: ChannelTLS? = nil) throws(ChannelError) {
        self.options = options
        self.tls = tls
        self.targetText = targetText
        self.log = log
        self.balancer = LoadBalancers.make(options: options)
        self.retries = ChannelRetries(config: options.retryConfig)
        self.subsetClientID = options.subsetClientID.map(RendezvousSubset.clientID)
            ?? UInt64.random(in: .min ... .max)
        self.scheduler = DiscoveryScheduler(options: options)
        // Without endpoints: a manual: channel waits for a push (IDLE); every other
        // one is about to have endpoints or is resolving (CONNECTING).
        if case .manual = source {
            connectivity = ConnectivityFeed(emptyState: .idle)
        } else {
            connectivity = ConnectivityFeed(emptyState: .connecting)
        }
        do {
            loop = try EventLoop()
        } catch {
            throw .system(error)
        }
        var initial: [EndpointAddress] = []
        var worker: LookupResolver?
        let gate = CallbackGate()
        callbacks = gate
        switch source {
        case .fixed(let addresses):
            initial = addresses
        case .dns(let server, let host, let port):
            resolver = try DNSResolver(loop: loop, server: server, host: host, port: port,
                                       srv: options.dnsSRV, timeoutMs: options.dnsTimeoutMs)
        case .lookup(let function):
            worker = try LookupResolver(loop: loop, target: targetText, function: { target in
                gate.run { function(target) } ?? .failure(LookupFailure("the channel is closing"))
            })
            resolver = worker
        case .manual:
            break
        }
        lookupWorker = worker
        loop.afterIteration = { [unowned self] in self.flushConnections() }
        do {
            try loop.start()
        } catch {
            resolver?.shutDown()
            throw .system(error)
        }
        loop.submit { [self] in
            if !initial.isEmpty { updateEndpoints(initial, origin: "target") }
            startDiscovery()
            startOutlierDetection()
        }
        if options.resolution == .eager && resolver != nil {
            let deadline = EventLoop.deadline(afterMs: options.eagerTimeoutMs)
            if !firstEndpoints.wait(untilNs: deadline) {
                let detail = statsSnapshotError() ?? "no addresses yet"
                close()
                throw .resolutionTimeout(
                    "eager resolution of \"\(targetText)\" found no endpoint within \(options.eagerTimeoutMs) ms (\(detail))")
            }
        }
    }

    // MARK: any thread

    /// Start `call`; its result is available after `call.waitForCompletion()`.
    package func start(_ call: Call) {
        call.channel = self
        let waits = call.prepareWaiter(on: loop)
        call.deadlineWatchedByWaiter = waits && call.deadlineNs != nil
        if !waits {
            if call.bindQueue(to: loop) {
                call.queuedForPoller = true
                loop.noteQueuedCall(started: true)
            } else {
                call.waiterless = true
                loop.noteWaiterlessCall(started: true)
            }
        }
        // A queued call's poller leads next (or the I/O thread was resumed already).
        if !(waits || call.queuedForPoller ? loop.executeThenLead(call) : loop.execute(call)) {
            call.channel = nil
            if call.waiterless {
                call.waiterless = false
                loop.noteWaiterlessCall(started: false)
            }
            if call.queuedForPoller {
                call.queuedForPoller = false
                loop.noteQueuedCall(started: false)
            }
            call.complete(.cancelled, "channel closed")
        }
    }

    /// Replace the endpoint set (push discovery). Any thread. Returns false once closed.
    /// On a channel with a resolver the next resolution replaces the pushed set again.
    @discardableResult
    package func setEndpoints(_ addresses: [EndpointAddress], weights: [EndpointAddress: Int] = [:]) -> Bool {
        loop.submit { [self] in
            stats.pushes += 1
            updateEndpoints(addresses, weights: weights, origin: "push")
        }
    }

    /// Send a line to the log callback unless callbacks were muted. Loop thread.
    func emit(_ level: LogLevel, _ message: @autoclosure () -> String) {
        guard let log else { return }
        _ = callbacks.run { log(level, message()) }
    }

    /// Stop calling the log callback (the channel is being closed from one of its
    /// own callbacks; no callback may run once that one has returned). Any thread.
    package func muteCallbacks() {
        callbacks.mute()
        lookupWorker?.requestStop()
    }

    /// True on the channel's I/O thread (where log callbacks run).
    package var isLoopThread: Bool { loop.inLoopThread }

    /// True on one of the channel's own threads (its I/O thread, where log callbacks
    /// run, or its lookup thread), where `close()` would wait for itself.
    package var isOwnThread: Bool {
        loop.inLoopThread || (lookupWorker?.onWorkerThread ?? false)
    }

    /// Cancel in-flight RPCs with CANCELLED, close connections, stop discovery and the
    /// I/O thread. Idempotent. Must not be called on one of the channel's own threads
    /// (see `isOwnThread`).
    package func close() {
        loop.submitFinal { [self] in shutDown() }
        loop.stopAndJoin()
        loop.afterIteration = nil
        connectivity.shutDown()  // done by shutDown() already unless the loop had stopped
    }

    /// A JSON snapshot of the endpoints, discovery and counters; nil once closed. The
    /// figures are copied on the loop thread, the text is formatted on the caller's.
    package func statsJSON() -> String? {
        onLoop { self.statsSnapshot() }?.json
    }

    /// Run `body` on the loop thread and wait for its result; nil once closed.
    func onLoop<T>(_ body: @escaping () -> T) -> T? {
        if loop.inLoopThread { return body() }  // e.g. from a log callback
        var result: T?
        let done = Completion()
        let accepted = loop.submit {
            result = body()
            done.signal()
        }
        guard accepted else { return nil }
        done.wait()
        return result
    }

    private func statsSnapshotError() -> String? {
        onLoop { self.stats.lastError }.flatMap { $0 }
    }

    deinit {
        loop.afterIteration = nil
    }
}
