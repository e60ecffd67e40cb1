import CAres
import CLBCShim
import Glibc
import LBCCore

/// Resolves a host name with c-ares from the channel's event loop: c-ares sockets sit in
/// the loop's epoll set and its timeouts on the loop's timers, so no thread per query.
/// A and AAAA records by default; SRV records (names like `_grpc._tcp.svc.example`)
/// supply hosts and ports when `srv` is set.
package final class DNSResolver: Resolver {
    package let kind = "dns"
    private let loop: EventLoop
    private let host: String
    private let port: UInt16
    private let srv: Bool
    private var channel: OpaquePointer?
    private var sockets: [Int32: AresSocket] = [:]
    private var timer: ClosureTimer?
    private var generation = 0
    private var isShutDown = false

    /// One c-ares socket registered in the loop.
    private final class AresSocket: FileDescriptorHandler {
        weak var resolver: DNSResolver?
        let fd: Int32
        init(resolver: DNSResolver, fd: Int32) {
            self.resolver = resolver
            self.fd = fd
        }
        func handleEvents(_ events: UInt32) {
            let readable = events & (LBCSHIM_EPOLLIN | LBCSHIM_EPOLLERR | LBCSHIM_EPOLLHUP) != 0
            let writable = events & LBCSHIM_EPOLLOUT != 0
            resolver?.process(read: readable ? fd : ARES_SOCKET_BAD, write: writable ? fd : ARES_SOCKET_BAD)
        }
    }

    private static let libraryInit: Int32 = ares_library_init(ARES_LIB_INIT_ALL)

    /// - Parameters:
    ///   - server: "IP:PORT" of the DNS server to ask, or nil for the system's (/etc/resolv.conf).
    package init(loop: EventLoop, server: String?, host: String, port: UInt16, srv: Bool,
                 timeoutMs: Int64) throws(ChannelError) {
        self.loop = loop
        self.host = host
        self.port = port
        self.srv = srv
        guard DNSResolver.libraryInit == ARES_SUCCESS else {
            throw .resolver("c-ares initialisation failed: \(String(cString: ares_strerror(DNSResolver.libraryInit)))")
        }
        var options = ares_options()
        options.sock_state_cb = { data, fd, readable, writable in
            let resolver = Unmanaged<DNSResolver>.fromOpaque(data!).takeUnretainedValue()
            resolver.socketStateChanged(fd: fd, readable: readable != 0, writable: writable != 0)
        }
        options.sock_state_cb_data = Unmanaged.passUnretained(self).toOpaque()
        options.timeout = Int32(clamping: timeoutMs)
        options.tries = 2
        // An explicit server means DNS only; the system resolver also reads /etc/hosts.
        let lookups = strdup(server == nil ? "fb" : "b")
        defer { free(lookups) }
        options.lookups = lookups
        let mask = ARES_OPT_SOCK_STATE_CB | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES | ARES_OPT_LOOKUPS
        var ch: OpaquePointer?
        let rc = ares_init_options(&ch, &options, mask)
        guard rc == ARES_SUCCESS, let ch else {
            throw .resolver("c-ares: \(String(cString: ares_strerror(rc)))")
        }
        channel = ch
        // c-ares' sockets are tracked like the library's own (a forked child lets go of them).
        ares_set_socket_functions(ch, lbcshim_ares_socket_functions().assumingMemoryBound(to: ares_socket_functions.self),
                                  nil)
        if let server {
            let rc = ares_set_servers_ports_csv(ch, server)
            if rc != ARES_SUCCESS {
                ares_destroy(ch)
                channel = nil
                throw .resolver("invalid DNS server \"\(server)\": \(String(cString: ares_strerror(rc)))")
            }
        }
    }

    package func resolve(_ completion: @escaping (ResolutionResult) -> Void) {
        guard let channel, !isShutDown else { return }
        generation += 1
        if srv {
            SRVQuery(resolver: self, completion: completion).start(channel: channel, name: host)
        } else {
            AddressQuery(hosts: [(host, port, nil)], completion: completion).start(channel: channel)
        }
        armTimer()
    }

    package func shutDown() {
        guard !isShutDown else { return }
        isShutDown = true
        if let t = timer { loop.cancelTimer(t) }
        if let ch = channel {
            channel = nil
            ares_destroy(ch)  // fails outstanding queries with ARES_EDESTRUCTION (ignored)
        }
        for (fd, _) in sockets { loop.unregister(fd: fd) }
        sockets.removeAll()
    }

    deinit { shutDown() }

    // MARK: c-ares plumbing

    private func socketStateChanged(fd: Int32, readable: Bool, writable: Bool) {
        if !readable && !writable {
            if sockets.removeValue(forKey: fd) != nil { loop.unregister(fd: fd) }
            return
        }
        let events = (readable ? LBCSHIM_EPOLLIN : 0) | (writable ? LBCSHIM_EPOLLOUT : 0)
        if sockets[fd] != nil {
            loop.modify(fd: fd, events: events)
        } else {
            let handler = AresSocket(resolver: self, fd: fd)
            if (try? loop.register(fd: fd, events: events, handler: handler)) != nil {
                sockets[fd] = handler
            }
        }
    }

    fileprivate func process(read: Int32, write: Int32) {
        guard let channel else { return }
        ares_process_fd(channel, read, write)
        armTimer()
    }

    fileprivate func armTimer() {
        if let t = timer {
            loop.cancelTimer(t)
            timer = nil
        }
        guard let channel else { return }
        var tv = timeval()
        guard let next = ares_timeout(channel, nil, &tv) else { return }
        let delayNs = Int64(next.pointee.tv_sec) * 1_000_000_000 + Int64(next.pointee.tv_usec) * 1000
        timer = loop.schedule(at: EventLoop.now() + delayNs) { [weak self] in
            guard let self else { return }
            self.timer = nil
            self.process(read: ARES_SOCKET_BAD, write: ARES_SOCKET_BAD)
        }
    }

    /// Query the A/AAAA records of hosts for an SRV answer (with the records' weights).
    fileprivate func resolveTargets(_ targets: [(String, UInt16, Int?)], ttl: UInt32?,
                                    completion: @escaping (ResolutionResult) -> Void) {
        guard let channel, !isShutDown else { return }
        if targets.isEmpty {
            completion(.addresses([], ttlSeconds: ttl))
            return
        }
        AddressQuery(hosts: targets, completion: completion, initialTTL: ttl).start(channel: channel)
    }
}

/// A/AAAA lookups of one or more (host, port, weight) triples, merged into one result;
/// SRV targets carry their record's weight (for weighted_round_robin).
private final class AddressQuery {
    private var remaining: Int
    private var addresses: [EndpointAddress] = []
    private var weights: [EndpointAddress: Int] = [:]
    private var ttl: UInt32?
    private var errors: [String] = []
    private var emptyAnswers = 0
    private let hosts: [(String, UInt16, Int?)]
    private let completion: (ResolutionResult) -> Void

    init(hosts: [(String, UInt16, Int?)], completion: @escaping (ResolutionResult) -> Void, initialTTL: UInt32? = nil) {
        self.hosts = hosts
        self.remaining = hosts.count
        self.completion = completion
        self.ttl = initialTTL
    }

    func start(channel: OpaquePointer) {
        for (index, (host, _, _)) in hosts.enumerated() {
            var hints = ares_addrinfo_hints()
            hints.ai_family = AF_UNSPEC
            hints.ai_flags = ARES_AI_NOSORT
            hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
            let context = Unmanaged.passRetained(QueryContext(query: self, index: index)).toOpaque()
            ares_getaddrinfo(channel, host, nil, &hints, { arg, status, _, result in
                let context = Unmanaged<QueryContext>.fromOpaque(arg!).takeRetainedValue()
                context.query.finished(index: context.index, status: status, result: result)
                if let result { ares_freeaddrinfo(result) }
            }, context)
        }
    }

    private final class QueryContext {
        let query: AddressQuery
        let index: Int
        init(query: AddressQuery, index: Int) {
            self.query = query
            self.index = index
        }
    }

    private func finished(index: Int, status: Int32, result: UnsafeMutablePointer<ares_addrinfo>?) {
        let (host, port, weight) = hosts[index]
        if status == ARES_EDESTRUCTION || status == ARES_ECANCELLED { return }
        if status == ARES_SUCCESS, let result {
            var node = result.pointee.nodes
            while let n = node {
                if let address = Self.address(n.pointee, port: port), !addresses.contains(address) {
                    addresses.append(address)
                    if let weight { weights[address] = weight }
                }
                if n.pointee.ai_ttl >= 0 {
                    let t = UInt32(n.pointee.ai_ttl)
                    ttl = min(ttl ?? t, t)
                }
                node = n.pointee.ai_next
            }
        } else if status == ARES_ENOTFOUND || status == ARES_ENODATA || status == ARES_SUCCESS {
            emptyAnswers += 1
        } else {
            errors.append("\(host): \(String(cString: ares_strerror(status)))")
        }
        remaining -= 1
        guard remaining == 0 else { return }
        if addresses.isEmpty && !errors.isEmpty {
            completion(.failure("DNS lookup failed: " + errors.joined(separator: "; ")))
        } else {
            completion(.addresses(addresses, ttlSeconds: ttl, weights: weights))
        }
    }

    private static func address(_ node: ares_addrinfo_node, port: UInt16) -> EndpointAddress? {
        guard let sa = node.ai_addr else { return nil }
        var text = [CChar](repeating: 0, count: 64)
        switch node.ai_family {
        case AF_INET:
            return sa.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { sin -> EndpointAddress? in
                var addr = sin.pointee.sin_addr
                guard inet_ntop(AF_INET, &addr, &text, 64) != nil else { return nil }
                return .ipv4(host: String(cString: text), port: port)
            }
        case AF_INET6:
            return sa.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { sin6 -> EndpointAddress? in
                var addr = sin6.pointee.sin6_addr
                guard inet_ntop(AF_INET6, &addr, &text, 64) != nil else { return nil }
                return .ipv6(host: String(cString: text), port: port)
            }
        default:
            return nil
        }
    }
}

/// An SRV lookup followed by A/AAAA lookups of its targets.
private final class SRVQuery {
    private weak var resolver: DNSResolver?
    private let completion: (ResolutionResult) -> Void

    init(resolver: DNSResolver, completion: @escaping (ResolutionResult) -> Void) {
        self.resolver = resolver
        self.completion = completion
    }

    func start(channel: OpaquePointer, name: String) {
        let context = Unmanaged.passRetained(self).toOpaque()
        ares_query(channel, name, 1 /* C_IN */, 33 /* T_SRV */, { arg, status, _, abuf, alen in
            let query = Unmanaged<SRVQuery>.fromOpaque(arg!).takeRetainedValue()
            query.answered(status: status, abuf: abuf, alen: alen)
        }, context)
    }

    private func answered(status: Int32, abuf: UnsafeMutablePointer<UInt8>?, alen: Int32) {
        if status == ARES_EDESTRUCTION || status == ARES_ECANCELLED { return }
        if status == ARES_ENOTFOUND || status == ARES_ENODATA {
            completion(.addresses([], ttlSeconds: nil))
            return
        }
        guard status == ARES_SUCCESS, let abuf else {
            completion(.failure("DNS SRV lookup failed: \(String(cString: ares_strerror(status)))"))
            return
        }
        var reply: UnsafeMutablePointer<ares_srv_reply>?
        let rc = ares_parse_srv_reply(abuf, alen, &reply)
        guard rc == ARES_SUCCESS else {
            if rc == ARES_ENODATA {
                completion(.addresses([], ttlSeconds: nil))
            } else {
                completion(.failure("DNS SRV answer could not be parsed: \(String(cString: ares_strerror(rc)))"))
            }
            return
        }
        var targets: [(String, UInt16, Int?)] = []
        var node = reply
        while let n = node {
            // RFC 2782 weight 0 means "rarely": the smallest weight here.
            targets.append((String(cString: n.pointee.host), n.pointee.port, max(1, Int(n.pointee.weight))))
            node = n.pointee.next
        }
        ares_free_data(reply)
        resolver?.resolveTargets(targets, ttl: nil, completion: completion)
    }
}
