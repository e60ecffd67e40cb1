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
    package func write(vectors: UnsafeBufferPointer<iovec>) throws(TransportError) -> Int? {
        do {
            if vectors.count == 1 {
                let v = vectors[0]
                return try Syscall.nonBlocking("write") { send(fd, v.iov_base, v.iov_len, Int32(MSG_NOSIGNAL)) }
            }
            var message = msghdr()
            message.msg_iov = UnsafeMutablePointer(mutating: vectors.baseAddress)
            message.msg_iovlen = vectors.count
            return try Syscall.nonBlocking("sendmsg") { sendmsg(fd, &message, Int32(MSG_NOSIGNAL)) }
        } catch {
            throw TransportError("\(error)")
        }
    }

    package func flushBuffered() throws(TransportError) -> Bool { true }

    package func shutDown() {}
}
