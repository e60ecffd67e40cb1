import Glibc

/// Classifies a response header name without allocating: the names gRPC reserves
/// are recognised by length and bytes, everything else is user metadata.
package enum ResponseHeaderName {
    case status, otherPseudo, contentType, grpcStatus, grpcMessage, grpcEncoding, grpcAcceptEncoding, metadata

    package init(_ name: UnsafeRawBufferPointer) {
        guard let first = name.first else {
            self = .metadata
            return
        }
        if first == UInt8(ascii: ":") {
            self = Self.equals(name, ":status") ? .status : .otherPseudo
            return
        }
        switch name.count {
        case 11 where Self.equals(name, "grpc-status"): self = .grpcStatus
        case 12 where Self.equals(name, "content-type"): self = .contentType
        case 12 where Self.equals(name, "grpc-message"): self = .grpcMessage
        case 13 where Self.equals(name, "grpc-encoding"): self = .grpcEncoding
        case 20 where Self.equals(name, "grpc-accept-encoding"): self = .grpcAcceptEncoding
        default: self = .metadata
        }
    }

    /// True when `bytes` begins with `prefix` (a memcmp, not a generic sequence walk).
    @inline(__always)
    package static func hasPrefix(_ bytes: UnsafeRawBufferPointer, _ prefix: StaticString) -> Bool {
        bytes.count >= prefix.utf8CodeUnitCount
            && memcmp(bytes.baseAddress!, prefix.utf8Start, prefix.utf8CodeUnitCount) == 0
    }

    /// True when `bytes` ends with `suffix`.
    @inline(__always)
    package static func hasSuffix(_ bytes: UnsafeRawBufferPointer, _ suffix: StaticString) -> Bool {
        let n = suffix.utf8CodeUnitCount
        return bytes.count >= n && memcmp(bytes.baseAddress! + (bytes.count - n), suffix.utf8Start, n) == 0
    }

    @inline(__always)
    private static func equals(_ bytes: UnsafeRawBufferPointer, _ literal: StaticString) -> Bool {
        bytes.count == literal.utf8CodeUnitCount
            && memcmp(bytes.baseAddress!, literal.utf8Start, bytes.count) == 0
    }
}
