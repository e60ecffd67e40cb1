// libFuzzer entry points over the I/O-free code that sees bytes from servers and
// users: gRPC message deframing, grpc-message percent-decoding, base64 (-bin
// metadata), grpc-timeout, target and address parsing, metadata and method
// validation, option parsing, the grpc.health.v1 response decoder, the call state
// machine fed arbitrary frame sequences, and the service config's JSON reader. Built and run by Tests/Fuzz/run.sh (with
// AddressSanitizer), one target at a time: LBC_FUZZ_TARGET names it and every
// input goes to that target whole. A crash, a trap or a broken property stops the
// run with the input that caused it.
import Glibc

/// The fuzz targets by name (run.sh runs each in turn; `make fuzz FUZZ_TARGETS=...` picks some).
let fuzzTargets: [String: (UnsafeRawBufferPointer) -> Void] = [
    "deframe": { input in
        // The first byte picks the chunk size the bytes arrive in.
        guard let first = input.first else { return }
        fuzzDeframer(UnsafeRawBufferPointer(rebasing: input.dropFirst()), chunk: Int(first % 64) + 1)
    },
    "percent": fuzzPercentEncoding,
    "base64": fuzzBase64,
    "timeout": { input in _ = GRPCTimeout.decode(input) },
    "target": { input in
        let text = String(decoding: input, as: UTF8.self)
        _ = try? Target.parse(text)
        _ = try? EndpointAddress.parse(text)
        _ = try? EndpointAddress.parse(text, defaultPort: 443)
    },
    "metadata": { input in
        let split = input.firstIndex(of: 0) ?? input.count
        let key = String(decoding: UnsafeRawBufferPointer(rebasing: input[..<split]), as: UTF8.self)
        _ = MetadataValidation.problem(key: key, value: input)
    },
    "method": fuzzMethodPath,
    "options": fuzzOptions,
    "serviceconfig": fuzzServiceConfig,
    "health": fuzzHealthCodec,
    "call": { input in
        // The first byte picks the call's shape: unary (one response message) or streaming.
        guard let first = input.first else { return }
        fuzzCallStateMachine(UnsafeRawBufferPointer(rebasing: input.dropFirst()), unary: first & 1 != 0)
    },
]

/// The target named by LBC_FUZZ_TARGET (checked once, at the first input).
let selectedTarget: (UnsafeRawBufferPointer) -> Void = {
    let name = getenv("LBC_FUZZ_TARGET").map { String(cString: $0) } ?? ""
    guard let target = fuzzTargets[name] else {
        let names = fuzzTargets.keys.sorted().joined(separator: ", ")
        fatalError("LBC_FUZZ_TARGET=\"\(name)\" is not a fuzz target (\(names))")
    }
    return target
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    selectedTarget(UnsafeRawBufferPointer(start: data, count: size))
    return 0
}

/// A refused method never contains a byte that could split a header; an accepted one
/// is "/" and visible ASCII only.
private func fuzzMethodPath(_ input: UnsafeRawBufferPointer) {
    let text = String(decoding: input, as: UTF8.self)
    if MethodPath.problem(text) == nil {
        precondition(text.utf8.first == UInt8(ascii: "/") && text.utf8.count > 1, "accepted a method without '/'")
        precondition(text.utf8.allSatisfy { $0 >= 0x21 && $0 <= 0x7E }, "accepted a method with a forbidden byte")
    }
}

/// Any key and value (split at the first NUL): set either succeeds or throws, and a
/// throw leaves the options as they were.
private func fuzzOptions(_ input: UnsafeRawBufferPointer) {
    let split = input.firstIndex(of: 0) ?? input.count
    let key = String(decoding: UnsafeRawBufferPointer(rebasing: input[..<split]), as: UTF8.self)
    let value = String(decoding: UnsafeRawBufferPointer(rebasing: input[min(split + 1, input.count)...]), as: UTF8.self)
    var options = ChannelOptions()
    let before = options
    do {
        try options.set(key, value)
    } catch {
        precondition(options == before, "a failed set changed the options")
        return
    }
    precondition(options.backoffMaxMs >= options.backoffInitialMs, "backoff max below initial")
    if let authority = options.authority {
        precondition(authority.utf8.allSatisfy { $0 >= 0x21 && $0 <= 0x7E }, "authority with a forbidden byte")
    }
    if let agent = options.userAgent {
        precondition(agent.utf8.allSatisfy { $0 >= 0x20 && $0 <= 0x7E }, "user agent with a forbidden byte")
    }
}

/// Header fields a fuzzed response may carry.
private let fuzzFields: [(String, String)] = [
    (":status", "200"), (":status", "100"), (":status", "503"), (":status", "2x"), ("content-type", "application/grpc"),
    ("content-type", "text/html"), ("grpc-status", "0"), ("grpc-status", "5"), ("grpc-status", "zz"),
    ("grpc-message", "a%20b"), ("x-md", "v"), ("x-bin", "AAE="), (":path", "/"), ("grpc-encoding", "gzip"),
]

/// Arbitrary event sequences: never a crash, and an OK status only when every DATA
/// byte was delivered as whole messages (exactly one for a unary call).
private func fuzzCallStateMachine(_ input: UnsafeRawBufferPointer, unary: Bool) {
    var m = CallStateMachine(maxReceiveMessageSize: 64, singleResponse: unary, maxHeaderListBytes: 512)
    m.dispatched(queued: false)
    var i = 0
    func next() -> Int {
        defer { i += 1 }
        return i < input.count ? Int(input[i]) : 0
    }
    var fed = 0, delivered = 0, messages = 0
    while true {
        var closeCode: UInt32?
        if i >= input.count {
            closeCode = 0
        } else {
            switch next() % 6 {
            case 0:
                let endStream = next() & 1 != 0
                for _ in 0..<(next() % 4) {
                    let (name, value) = fuzzFields[next() % fuzzFields.count]
                    let action = Array(name.utf8).withUnsafeBytes { n in
                        Array(value.utf8).withUnsafeBytes { v in m.receivedHeaderField(name: n, value: v, frameEndsStream: endStream) }
                    }
                    if action == .rejectHeaderBlock { break }
                }
                _ = m.headerFrameEnded(endStream: endStream)
            case 1:
                let n = min(next() % 32, max(0, input.count - i))
                let chunk = UnsafeRawBufferPointer(rebasing: input[i..<(i + n)])
                i += n
                if !m.isFinished && m.failure == nil { fed += n }
                _ = m.receivedData(chunk) { message in
                    delivered += message.count + 5
                    messages += 1
                }
            case 2: m.receivedReset(errorCode: UInt32(next() % 14))
            case 3:
                switch next() % 3 {
                case 0: m.requestNotSent(.headerBlockTooLarge(headerListBytes: 70_000, limitBytes: 65_536))
                case 1: m.requestNotSent(.connectionNotAccepting)
                default: m.requestNotSent(.failed("x"))
                }
            case 4:
                _ = m.abandon()
            default:
                closeCode = UInt32(next() % 14)
            }
        }
        guard let code = closeCode else { continue }
        switch m.streamClosed(errorCode: code) {
        case .retryTransparently:
            m.prepareForRetry()
            m.dispatched(queued: false)
            fed = 0; delivered = 0; messages = 0
            if i >= input.count { return }
        case .finish(let status, _):
            if status == .ok {
                precondition(delivered == fed, "OK after dropping \(fed - delivered) DATA bytes")
                precondition(!unary || messages == 1, "unary OK with \(messages) messages")
            }
            return
        }
    }
}

/// Arbitrary bytes in arbitrary chunk sizes: never a crash; every message within the limit.
private func fuzzDeframer(_ input: UnsafeRawBufferPointer, chunk: Int) {
    var deframer = GRPCMessageDeframer(maxMessageSize: 4096)
    var offset = 0
    while offset < input.count {
        let end = min(offset + chunk, input.count)
        deframer.append(UnsafeRawBufferPointer(rebasing: input[offset..<end]))
        offset = end
        do {
            while let message = try deframer.next() {
                precondition(message.count <= 4096, "deframer returned a message above the limit")
            }
        } catch {
            return
        }
    }
    _ = deframer.hasPartialMessage
    // Framing round trip: what appendFrame writes, the deframer gives back.
    var framed: [UInt8] = []
    GRPCFraming.appendFrame(input, to: &framed)
    var again = GRPCMessageDeframer(maxMessageSize: input.count)
    framed.withUnsafeBytes { again.append($0) }
    let back = try? again.next()
    precondition(back.map { $0.elementsEqual(input) } ?? false, "framing round trip failed")
}

/// Lenient decoding never fails; encoding then decoding valid text gives it back.
private func fuzzPercentEncoding(_ input: UnsafeRawBufferPointer) {
    let decoded = PercentEncoding.decode(input)
    let text = String(decoding: input, as: UTF8.self)
    precondition(PercentEncoding.decode(PercentEncoding.encode(text)) == text, "percent round trip failed")
    _ = decoded
}

/// Decoding rejects or accepts; whatever it accepts re-encodes to an equivalent text.
private func fuzzBase64(_ input: UnsafeRawBufferPointer) {
    if let decoded = Base64.decode(input) {
        precondition(Base64.decode(Base64.encode(decoded)) == decoded, "base64 round trip failed")
    }
    let raw = Array(input)
    precondition(Base64.decode(Base64.encode(raw)) == raw, "base64 encode/decode failed")
}

/// Any text gives a service config or an error, never a crash; an accepted one only
/// holds policies within A6's bounds.
private func fuzzServiceConfig(_ input: UnsafeRawBufferPointer) {
    let text = String(decoding: input, as: UTF8.self)
    _ = try? JSONValue.parse(text)
    guard let config = try? ServiceConfig.parse(text) else { return }
    for entry in config.methods {
        switch entry.policy {
        case .retry(let p):
            precondition((2...5).contains(p.maxAttempts) && p.initialBackoffMs > 0 && p.maxBackoffMs >= p.initialBackoffMs)
        case .hedging(let h):
            precondition((2...5).contains(h.maxAttempts) && h.delayMs >= 0)
        case .none:
            break
        }
    }
}

/// The HealthCheckResponse decoder never traps; a message it accepts keeps its
/// status when another status field is appended (the last occurrence wins).
private func fuzzHealthCodec(_ input: UnsafeRawBufferPointer) {
    guard (try? HealthCheckCodec.status(of: input)) != nil else { return }
    let appended = Array(input) + [0x08, 0x02]
    guard (try? HealthCheckCodec.status(of: appended)) == 2 else {
        fatalError("a valid HealthCheckResponse followed by status=2 did not decode as 2")
    }
}
