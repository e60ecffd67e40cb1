import LBCCore

extension Channel {
    /// The figures of the stats JSON (lbc_channel_stats_json) as plain values, to be
    /// rendered off the loop (``ChannelStatsSnapshot/json``). Loop thread; copies only.
    func statsSnapshot() -> ChannelStatsSnapshot {
        let now = EventLoop.now()
        let keepaliveOn = keepalivePolicy.isEnabled
        var s = ChannelStatsSnapshot(target: targetText, policy: options.lbPolicy.name, keepalive: keepalivePolicy,
                                     discoveryKind: resolver?.kind ?? "static", discovery: stats)
        s.endpoints.reserveCapacity(endpoints.count)
        for e in endpoints {
            let cost = e.slot >= 0 ? balancer.cost(e.slot, nowNs: now) : 0
            s.endpoints.append(EndpointStatsSnapshot(e, cost: cost))
        }
        if tls != nil { s.endpointTLS = endpoints.map { $0.tlsSession?.counters } }
        if keepaliveOn { s.endpointKeepalive = endpoints.map { $0.keepaliveStats?.counters ?? KeepaliveCounters() } }
        s.retiredEndpoints = retired.count
        s.waitingCalls = waiting.count
        s.subsetSize = options.subsetSize
        s.discoveredEndpoints = discoveredEndpoints
        s.subsetClientID = options.subsetClientID
        s.lastResolutionAgeMs = stats.lastResolutionNs.map { (now - $0) / 1_000_000 }
        s.methods = methodMetrics
        return s
    }
}

/// Minimal JSON string quoting.
enum JSON {
    static func quote(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if u.value < 0x20 {
                    let hex = String(u.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(u)
                }
            }
        }
        return out + "\""
    }
}

/// The library version, shared by the C API and the user-agent.
package enum LBChannelVersion {
    package static let string = "1.1.0"
    package static let number: Int32 = 0x010100
}

extension Channel {
    /// The reported state of the endpoint `address` of the set (SHUTDOWN when it is not
    /// in the set); nil once the channel is closed. Any thread (a loop round trip).
    package func endpointConnectivity(_ address: EndpointAddress) -> ChannelConnectivity.State? {
        onLoop {
            guard let endpoint = self.endpoints.first(where: { $0.address == address }) else { return .shutdown }
            return ChannelConnectivity.State(endpoint.reportedState)
        }
    }
}
