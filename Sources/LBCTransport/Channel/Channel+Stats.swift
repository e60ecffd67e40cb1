import LBCCore

extension Channel {
    /// The stats JSON documented at lbc_channel_stats_json. Loop thread.
    func renderStats() -> String {
        var out = "{\"target\":\(JSON.quote(targetText)),\"policy\":\(JSON.quote(options.lbPolicy.name)),\"endpoints\":["
        let now = EventLoop.now()
        var ejected = 0
        for (i, e) in endpoints.enumerated() {
            if i > 0 { out += "," }
            let state = e.state
            if state.isEjected { ejected += 1 }
            out += "{\"address\":\(JSON.quote(e.address.description))"
            out += ",\"state\":\"\(state.name)\""
            out += ",\"health\":" + (state.health == .notChecked ? "null" : "\"\(state.health.name)\"")
            out += ",\"in_flight\":\(e.inFlight),\"calls_started\":\(e.callsStarted)"
            out += ",\"calls_failed\":\(e.callsFailed),\"connect_failures\":\(e.connectFailures)"
            out += ",\"latency_ewma_us\":\(Int(e.latencyEWMAMicros.rounded()))"
            out += renderBalancing(e, state, nowNs: now)
            out += ",\"draining_connections\":\(e.draining.count)"
            if let s = e.tlsSession { out += ",\"tls\":" + renderTLSStats(s) }
            out += ",\"keepalive\":" + renderKeepaliveStats(e)
            out += ",\"last_error\":\(e.lastError.map(JSON.quote) ?? "null")}"
        }
        out += "],\"retired_endpoints\":\(retired.count),\"waiting_calls\":\(waiting.count)"
        out += ",\"ejected_endpoints\":\(ejected)"
        out += ",\"keepalive\":" + renderKeepaliveStats()
        out += ",\"subset\":{\"size\":\(options.subsetSize),\"discovered_endpoints\":\(discoveredEndpoints)"
        out += ",\"client_id\":\(options.subsetClientID.map(JSON.quote) ?? "null")}"
        out += ",\"discovery\":{\"kind\":\(JSON.quote(resolver?.kind ?? "static"))"
        out += ",\"resolutions\":\(stats.resolutions),\"errors\":\(stats.errors)"
        out += ",\"empty_answers\":\(stats.emptyAnswers),\"updates\":\(stats.updates),\"pushes\":\(stats.pushes)"
        out += ",\"last_result\":\(stats.lastResult.map(JSON.quote) ?? "null")"
        out += ",\"last_error\":\(stats.lastError.map(JSON.quote) ?? "null")"
        if let t = stats.lastResolutionNs {
            out += ",\"last_resolution_age_ms\":\((EventLoop.now() - t) / 1_000_000)"
        } else {
            out += ",\"last_resolution_age_ms\":null"
        }
        out += "}}"
        return out
    }
}

extension Channel {
    /// The balancing fields of one endpoint: the balancer's cost, pickability, free
    /// stream slots and outlier ejection.
    private func renderBalancing(_ e: Endpoint, _ state: EndpointState, nowNs: Int64) -> String {
        let cost = e.slot >= 0 ? balancer.cost(e.slot, nowNs: nowNs) : 0
        var out = ",\"cost\":\(cost.isFinite ? Int(cost.rounded()) : 0),\"weight\":\(e.weight)"
        out += ",\"pickable\":\(state.isPickable)"
        out += ",\"free_streams\":\(max(0, e.connection?.freeStreamSlots ?? 0))"
        out += ",\"ejected\":\(state.isEjected),\"ejections\":\(state.ejections)"
        out += ",\"consecutive_failures\":\(state.consecutiveFailures)"
        return out
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
    package static let string = "1.0.0"
    package static let number: Int32 = 0x010000
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
