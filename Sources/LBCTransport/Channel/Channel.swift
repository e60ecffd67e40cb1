import LBCCore

/// Why a channel could not be opened.
package enum ChannelError: Error, CustomStringConvertible {
    case unsupportedTarget(String)
    case system(SystemError)

    package var description: String {
        switch self {
        case .unsupportedTarget(let m): return m
        case .system(let e): return "cannot start the channel's I/O thread: \(e)"
        }
    }
}

/// A load-balanced channel: endpoints, their connections, the picker and the RPCs
/// waiting for an endpoint. Public methods may be called from any thread; all state
/// lives on the channel's event-loop thread.
///
/// ```swift
/// let channel = try Channel(target: .addresses([.ipv4(host: "127.0.0.1", port: 50051)]),
///                           options: ChannelOptions())
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
    var endpoints: [Endpoint] = []
    var picker: Picker
    /// RPCs waiting for a READY endpoint, oldest first.
    var waiting: [UnaryCall] = []
    var isShutDown = false

    package init(target: Target, targetText: String, options: ChannelOptions) throws(ChannelError) {
        guard case .addresses(let addresses) = target else {
            throw .unsupportedTarget("DNS targets are not supported yet (\(targetText)); use ipv4:, ipv6: or unix: targets")
        }
        self.options = options
        self.targetText = targetText
        self.picker = Picker(policy: options.lbPolicy)
        do {
            loop = try EventLoop()
        } catch {
            throw .system(error)
        }
        let backoff = options.backoff
        endpoints = addresses.map { Endpoint(address: $0, backoff: backoff) }
        loop.afterIteration = { [unowned self] in self.flushConnections() }
        do {
            try loop.start()
        } catch {
            throw .system(error)
        }
        loop.submit { [self] in
            for endpoint in endpoints { apply(endpoint.machine.start(), to: endpoint) }
        }
    }

    // MARK: any thread

    /// Start `call`; its result is available after `call.waitForCompletion()`.
    package func start(_ call: UnaryCall) {
        let accepted = loop.submit { [self] in admit(call) }
        if !accepted { call.complete(.cancelled, "channel closed") }
    }

    /// Cancel in-flight RPCs with CANCELLED, close connections and stop the I/O thread.
    /// Idempotent. Must not be called on the channel's own I/O thread.
    package func close() {
        loop.submitFinal { [self] in shutDown() }
        loop.stopAndJoin()
        loop.afterIteration = nil
    }

    /// A JSON snapshot of the endpoints and their counters; nil once closed.
    package func statsJSON() -> String? {
        var result: String?
        let done = Completion()
        let accepted = loop.submit { [self] in
            result = renderStats()
            done.signal()
        }
        guard accepted else { return nil }
        done.wait()
        return result
    }

    deinit {
        loop.afterIteration = nil
    }
}
