import CNGHTTP2
import LBCCore

/// Request metadata encoded once on the caller's thread: every name and value
/// (base64 for "-bin" keys) in one buffer, so the I/O thread only points at it.
package struct EncodedMetadata: Sendable {
    var bytes: [UInt8] = []
    var fields: [(nameStart: Int, nameLength: Int, valueStart: Int, valueLength: Int)] = []

    package init(_ metadata: Metadata) {
        guard !metadata.isEmpty else { return }
        fields.reserveCapacity(metadata.count)
        for entry in metadata.entries {
            let nameStart = bytes.count
            bytes.append(contentsOf: entry.key.utf8)
            let valueStart = bytes.count
            if MetadataValidation.isBinaryKey(entry.key) {
                bytes.append(contentsOf: Base64.encode(entry.value).utf8)
            } else {
                bytes.append(contentsOf: entry.value)
            }
            fields.append((nameStart, valueStart - nameStart, valueStart, bytes.count - valueStart))
        }
    }
}

/// Builds a request's HEADERS as an `nghttp2_nv` array without allocating: constant
/// fields point at process-lifetime bytes, per-connection ones at the connection's.
enum RequestHeaders {
    private static let noCopy = UInt8(NGHTTP2_NV_FLAG_NO_COPY_NAME.rawValue | NGHTTP2_NV_FLAG_NO_COPY_VALUE.rawValue)
    private static let copyValue = UInt8(NGHTTP2_NV_FLAG_NO_COPY_NAME.rawValue)
    /// grpc-timeout differs on every call: indexing it would churn the HPACK dynamic
    /// table (an insertion and an eviction per call, and longer table searches).
    private static let neverIndex = UInt8(NGHTTP2_NV_FLAG_NO_COPY_NAME.rawValue | NGHTTP2_NV_FLAG_NO_INDEX.rawValue)

    // RFC 9113 §8.3: every pseudo-header comes before the regular fields.
    private static let methodField = (CString(":method"), CString("POST"))
    private static let schemeName = CString(":scheme")
    private static let constants: [(CString, CString)] = [
        (CString("content-type"), CString("application/grpc")),
        (CString("te"), CString("trailers")),
    ]
    private static let path = CString(":path")
    private static let authority = CString(":authority")
    private static let userAgent = CString("user-agent")
    private static let timeout = CString("grpc-timeout")
    private static let previousAttempts = CString(RetryState.previousAttemptsKey)
    /// "1" ... "4": at most five attempts (A6), so at most four came before.
    private static let previousAttemptsValues = (1..<RetryPolicy.attemptLimit).map { CString(String($0)) }

    /// Call `body` with the header fields of `call`. `scheme`, `authority` and
    /// `userAgent` must outlive the connection's streams (nghttp2 does not copy them).
    static func withFields<R>(for call: Call, scheme schemeValue: CString, authority authorityValue: CString,
                              userAgent agentValue: CString,
                              _ body: (UnsafePointer<nghttp2_nv>, Int) -> R) -> R {
        var method = call.method
        var timeoutText = call.deadlineNs.map { GRPCTimeout.encode(nanoseconds: max($0 - EventLoop.now(), 1)) } ?? ""
        let metadata = call.encodedMetadata
        let count = 2 + constants.count + 3 + (call.deadlineNs == nil ? 0 : 1) + metadata.fields.count
            + (call.previousAttempts > 0 ? 1 : 0)
        return method.withUTF8 { pathBytes in
            timeoutText.withUTF8 { timeoutBytes in
                metadata.bytes.withUnsafeBufferPointer { block in
                    withUnsafeTemporaryAllocation(of: nghttp2_nv.self, capacity: count) { nva in
                        var i = 0
                        func add(_ name: CString, _ value: UnsafeMutablePointer<UInt8>, _ length: Int, _ flags: UInt8) {
                            nva[i] = nghttp2_nv(name: name.bytes, value: value, namelen: name.count,
                                                valuelen: length, flags: flags)
                            i += 1
                        }
                        add(methodField.0, methodField.1.bytes, methodField.1.count, noCopy)
                        add(schemeName, schemeValue.bytes, schemeValue.count, noCopy)
                        add(path, UnsafeMutablePointer(mutating: pathBytes.baseAddress!), pathBytes.count, copyValue)
                        add(authority, authorityValue.bytes, authorityValue.count, noCopy)
                        for (name, value) in constants { add(name, value.bytes, value.count, noCopy) }
                        add(userAgent, agentValue.bytes, agentValue.count, noCopy)
                        if !timeoutBytes.isEmpty {
                            add(timeout, UnsafeMutablePointer(mutating: timeoutBytes.baseAddress!), timeoutBytes.count, neverIndex)
                        }
                        if call.previousAttempts > 0 {
                            // gRFC A6: attempts after the first say how many came before.
                            let value = previousAttemptsValues[min(call.previousAttempts, previousAttemptsValues.count) - 1]
                            add(previousAttempts, value.bytes, value.count, noCopy)
                        }
                        let base = UnsafeMutablePointer(mutating: block.baseAddress)
                        for f in metadata.fields {
                            nva[i] = nghttp2_nv(name: base! + f.nameStart, value: base! + f.valueStart,
                                                namelen: f.nameLength, valuelen: f.valueLength,
                                                flags: UInt8(NGHTTP2_NV_FLAG_NONE.rawValue))
                            i += 1
                        }
                        return body(UnsafePointer(nva.baseAddress!), i)
                    }
                }
            }
        }
    }
}
