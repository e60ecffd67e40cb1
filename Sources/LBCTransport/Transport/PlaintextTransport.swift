import Glibc

/// Bytes straight to and from the socket (h2c with prior knowledge).
package final class PlaintextTransport: ByteTransport {
    private let fd: Int32

    /// A transport over the connected socket `fd` (owned by the connection).
    package init(fd: Int32) { self.fd = fd }

    package func setUp(nowNs: Int64) -> TransportSetup { .ready }

    @inline(__always)
    package func read(into buffer: UnsafeMutableRawBufferPointer) throws(TransportError) -> Int? {
        do {
            return try Syscall.nonBlocking("read") { Glibc.read(fd, buffer.baseAddress, buffer.count) }
        } catch {
            throw TransportError("\(error)")
        }
    }

    @inline(__always)
    package func write(_ bytes: UnsafeRawBufferPointer) throws(TransportError) -> Int? {
        do {
            return try Syscall.nonBlocking("write") { send(fd, bytes.baseAddress, bytes.count, Int32(MSG_NOSIGNAL)) }
        } catch {
            throw TransportError("\(error)")
        }
    }

    package func flushBuffered() throws(TransportError) -> Bool { true }

    package func shutDown() {}
}
