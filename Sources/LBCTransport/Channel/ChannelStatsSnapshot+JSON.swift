import LBCCore

/// The JSON text of a stats snapshot, documented at lbc_channel_stats_json. Any thread:
/// the snapshot holds values only.
extension ChannelStatsSnapshot {
    var json: String {
        var out = "{\"target\":\(JSON.quote(target)),\"policy\":\(JSON.quote(policy)),\"endpoints\":["
        out.reserveCapacity(256 + endpoints.count * (keepalive.isEnabled ? 560 : 420))
        var ejected = 0
        for (i, e) in endpoints.enumerated() {
            if i > 0 { out += "," }
            if e.ejected { ejected += 1 }
            e.appendJSON(to: &out, tls: i < endpointTLS.count ? endpointTLS[i] : nil,
                         keepalive: keepalive.isEnabled && i < endpointKeepalive.count ? endpointKeepalive[i] : nil)
        }
        out += "],\"retired_endpoints\":\(retiredEndpoints),\"waiting_calls\":\(waitingCalls)"
        out += ",\"ejected_endpoints\":\(ejected)"
        out += ",\"keepalive\":" + keepaliveJSON
        out += ",\"subset\":{\"size\":\(subsetSize),\"discovered_endpoints\":\(discoveredEndpoints)"
        out += ",\"client_id\":\(subsetClientID.map(JSON.quote) ?? "null")}"
        out += ",\"discovery\":{\"kind\":\(JSON.quote(discoveryKind))"
        out += ",\"resolutions\":\(discovery.resolutions),\"errors\":\(discovery.errors)"
        out += ",\"empty_answers\":\(discovery.emptyAnswers),\"updates\":\(discovery.updates),\"pushes\":\(discovery.pushes)"
        out += ",\"last_result\":\(discovery.lastResult.map(JSON.quote) ?? "null")"
        out += ",\"last_error\":\(discovery.lastError.map(JSON.quote) ?? "null")"
        out += ",\"last_resolution_age_ms\":" + (lastResolutionAgeMs.map { String($0) } ?? "null")
        out += "},\"metrics\":"
        methods.appendJSON(to: &out)
        out += "}"
        return out
    }

    /// The channel's "keepalive" object, `null` when keepalive is off.
    private var keepaliveJSON: String {
        let p = keepalive
        guard p.isEnabled else { return "null" }
        return "{\"time_ms\":\(p.timeMs),\"configured_time_ms\":\(p.configuredTimeMs)"
            + ",\"timeout_ms\":\(p.timeoutMs),\"permit_without_calls\":\(p.permitWithoutCalls)"
            + ",\"too_many_pings\":\(p.tooManyPingsCount)}"
    }
}

extension EndpointStatsSnapshot {
    /// Append this endpoint's object of the "endpoints" array, with its "tls" object
    /// when `tls` is set and its "keepalive" object (`null` when `keepalive` is nil).
    func appendJSON(to out: inout String, tls: TLSHandshakeCounters?, keepalive: KeepaliveCounters?) {
        out += "{\"address\":\(JSON.quote(address.description))"
        out += ",\"state\":\"\(stateName)\""
        out += ",\"health\":" + (health == .notChecked ? "null" : "\"\(health.name)\"")
        out += ",\"in_flight\":\(inFlight),\"calls_started\":\(callsStarted)"
        out += ",\"calls_failed\":\(callsFailed),\"connect_failures\":\(connectFailures)"
        out += ",\"latency_ewma_us\":\(Int(latencyEWMAMicros.rounded()))"
        out += ",\"cost\":\(cost.isFinite ? Int(cost.rounded()) : 0),\"weight\":\(weight)"
        out += ",\"pickable\":\(pickable)"
        out += ",\"free_streams\":\(freeStreams)"
        out += ",\"ejected\":\(ejected),\"ejections\":\(ejections)"
        out += ",\"consecutive_failures\":\(consecutiveFailures)"
        out += ",\"draining_connections\":\(drainingConnections)"
        if let tls { out += ",\"tls\":" + tls.json }
        out += ",\"keepalive\":" + (keepalive?.json ?? "null")
        out += ",\"last_error\":\(lastError.map(JSON.quote) ?? "null")}"
    }
}

extension TLSHandshakeCounters {
    /// The "tls" object of an endpoint's stats entry.
    var json: String {
        let meanFull = fullHandshakes > 0 ? totalFullNs / Int64(fullHandshakes) / 1000 : 0
        let meanResumed = resumedHandshakes > 0 ? totalResumedNs / Int64(resumedHandshakes) / 1000 : 0
        return "{\"full_handshakes\":\(fullHandshakes),\"resumed_handshakes\":\(resumedHandshakes)"
            + ",\"last_full_handshake_us\":\(lastFullNs / 1000),\"last_resumed_handshake_us\":\(lastResumedNs / 1000)"
            + ",\"mean_full_handshake_us\":\(meanFull),\"mean_resumed_handshake_us\":\(meanResumed)"
            + ",\"last_full_ready_us\":\(lastFullReadyNs / 1000),\"last_resumed_ready_us\":\(lastResumedReadyNs / 1000)}"
    }
}

extension KeepaliveCounters {
    /// One endpoint's "keepalive" object.
    var json: String {
        let rtt = lastRoundTripNs.map { String($0 / 1000) } ?? "null"
        return "{\"time_ms\":\(timeMs),\"pings_sent\":\(pingsSent),\"pings_acked\":\(pingsAcknowledged)"
            + ",\"last_rtt_us\":\(rtt),\"dead_connections\":\(deadConnections)"
            + ",\"too_many_pings\":\(tooManyPings)}"
    }
}
