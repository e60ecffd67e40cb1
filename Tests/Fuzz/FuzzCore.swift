// libFuzzer entry point over the I/O-free decoders that see bytes from servers and
// users: gRPC message deframing, grpc-message percent-decoding, base64 (-bin
// metadata), grpc-timeout, target and address parsing, metadata validation, and
// the call state machine fed arbitrary frame sequences.
// Built and run by Tests/Fuzz/run.sh (with AddressSanitizer); a crash, a trap or a
// broken round-trip property stops the run with the input that caused it.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = UnsafeRawBufferPointer(start: data, count: size)
    guard let selector = bytes.first else { return 0 }
    let input = UnsafeRawBufferPointer(rebasing: bytes.dropFirst())
    switch selector % 7 {
    case 0: fuzzDeframer(input, chunk: Int(selector / 6) + 1)
    case 1: fuzzPercentEncoding(input)
    case 2: fuzzBase64(input)
    case 3: _ = GRPCTimeout.decode(input)
    case 4:
        let text = String(decoding: input, as: UTF8.self)
        _ = try? Target.parse(text)
        _ = try? EndpointAddress.parse(text)
        _ = try? EndpointAddress.parse(text, defaultPort: 443)
    case 5:
        let split = input.firstIndex(of: 0) ?? input.count
        let key = String(decoding: UnsafeRawBufferPointer(rebasing: input[..<split]), as: UTF8.self)
        _ = MetadataValidation.problem(key: key, value: input)
    default:
        fuzzCallStateMachine(input, unary: selector & 0x80 != 0)
    }
    return 0
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
