// libFuzzer entry point over the I/O-free decoders that see bytes from servers and
// users: gRPC message deframing, grpc-message percent-decoding, base64 (-bin
// metadata), grpc-timeout, target and address parsing, metadata validation.
// Built and run by Tests/Fuzz/run.sh (with AddressSanitizer); a crash, a trap or a
// broken round-trip property stops the run with the input that caused it.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = UnsafeRawBufferPointer(start: data, count: size)
    guard let selector = bytes.first else { return 0 }
    let input = UnsafeRawBufferPointer(rebasing: bytes.dropFirst())
    switch selector % 6 {
    case 0: fuzzDeframer(input, chunk: Int(selector / 6) + 1)
    case 1: fuzzPercentEncoding(input)
    case 2: fuzzBase64(input)
    case 3: _ = GRPCTimeout.decode(input)
    case 4:
        let text = String(decoding: input, as: UTF8.self)
        _ = try? Target.parse(text)
        _ = try? EndpointAddress.parse(text)
        _ = try? EndpointAddress.parse(text, defaultPort: 443)
    default:
        let split = input.firstIndex(of: 0) ?? input.count
        let key = String(decoding: UnsafeRawBufferPointer(rebasing: input[..<split]), as: UTF8.self)
        _ = MetadataValidation.problem(key: key, value: input)
    }
    return 0
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
