import CLBCShim
import Glibc
import LBCCore

/// Non-blocking stream sockets to endpoint addresses.
package enum Socket {
    /// Create a non-blocking socket for `address` and start connecting.
    /// Returns the fd and whether the connection completed immediately.
    package static func connect(to address: EndpointAddress) throws(SystemError) -> (fd: Int32, connected: Bool) {
        let family: Int32
        switch address {
        case .ipv4: family = AF_INET
        case .ipv6: family = AF_INET6
        case .unix: family = AF_UNIX
        }
        // Tracked: a forked child lets go of it (lbcshim_fd_track); closed by lbcshim_fd_close.
        let fd = lbcshim_fd_track(socket(family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0))
        if fd < 0 { throw SystemError("socket", errno: errno) }
        if family != AF_UNIX {
            var one: Int32 = 1
            setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        }
        var rc: Int32 = 0
        switch address {
        case .ipv4(let host, let port):
            var sa = sockaddr_in()
            sa.sin_family = sa_family_t(AF_INET)
            sa.sin_port = port.bigEndian
            _ = inet_pton(AF_INET, host, &sa.sin_addr)
            rc = withUnsafePointer(to: &sa) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
        case .ipv6(let host, let port):
            var sa = sockaddr_in6()
            sa.sin6_family = sa_family_t(AF_INET6)
            sa.sin6_port = port.bigEndian
            _ = inet_pton(AF_INET6, host, &sa.sin6_addr)
            rc = withUnsafePointer(to: &sa) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in6>.size))
                }
            }
        case .unix(let path):
            var sa = sockaddr_un()
            sa.sun_family = sa_family_t(AF_UNIX)
            let bytes = Array(path.utf8)
            guard bytes.count < MemoryLayout.size(ofValue: sa.sun_path) else {
                lbcshim_fd_close(fd)
                throw SystemError("connect(unix path too long)", errno: ENAMETOOLONG)
            }
            withUnsafeMutableBytes(of: &sa.sun_path) { raw in
                raw.copyBytes(from: bytes)
                raw[bytes.count] = 0
            }
            rc = withUnsafePointer(to: &sa) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
                }
            }
        }
        if rc == 0 { return (fd, true) }
        let e = errno
        if e == EINPROGRESS || e == EINTR || e == EAGAIN { return (fd, false) }
        lbcshim_fd_close(fd)
        throw SystemError("connect", errno: e)
    }

    /// The pending error of a connecting socket (0 when connected).
    package static func pendingError(_ fd: Int32) -> Int32 {
        var err: Int32 = 0
        var len = socklen_t(MemoryLayout<Int32>.size)
        if getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0 { return errno }
        return err
    }
}
