import Glibc
import LBCCore

/// A transport failure the connection reports as is (the message names the cause).
package struct TransportError: Error, CustomStringConvertible, Sendable {
    /// The complete message, e.g. `TLS handshake with 10.0.0.7:443 failed: ...`.
    package var message: String
    /// An error with `message`.
    package init(_ message: String) { self.message = message }
    /// The message.
    package var description: String { message }
}

/// How far a transport's setup (the TLS handshake) got.
package enum TransportSetup: Equatable {
    /// Application bytes can flow.
    case ready
    /// Call `setUp` again when the socket is readable.
    case wantRead
    /// Call `setUp` again when the socket is writable.
    case wantWrite
    /// The setup failed with this message.
    case failed(String)
}

/// The byte stream under an HTTP/2 connection: plaintext on the socket, or TLS.
///
/// The connection owns the socket (connect, epoll registration, close); the transport
/// only moves bytes over it. Loop thread only. Per flush the connection calls
/// `write(vectors:)` with the front of its write queue (frames nghttp2 serialized and
/// request bytes it sends without a copy) and then `flushBuffered`: the plaintext
/// transport gathers them with one `sendmsg`, TLS encrypts them into its records.
///
/// ```swift
/// let transport: ByteTransport = PlaintextTransport(fd: fd)
/// if case .ready = transport.setUp(nowNs: EventLoop.now()) { startHTTP2() }
/// ```
package protocol ByteTransport: AnyObject {
    /// Drive the setup (TLS handshake) after the TCP connection is up.
    func setUp(nowNs: Int64) -> TransportSetup
    /// Read application bytes into `buffer`: the count, 0 at the end of the stream, nil
    /// when nothing is available now.
    func read(into buffer: UnsafeMutableRawBufferPointer) throws(TransportError) -> Int?
    /// Take application bytes for sending, in the order of `vectors`: how many were
    /// taken (a write may end inside a vector), nil when the socket is full (wait for
    /// EPOLLOUT).
    func write(vectors: UnsafeBufferPointer<iovec>) throws(TransportError) -> Int?
    /// Send what the transport itself still holds (TLS records); true when nothing is left.
    func flushBuffered() throws(TransportError) -> Bool
    /// Say goodbye on a healthy stream (TLS close_notify), best effort, before the
    /// connection closes the socket.
    func shutDown()
}
