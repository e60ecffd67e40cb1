import Glibc

/// A failed system call: what was attempted and errno.
package struct SystemError: Error, CustomStringConvertible, Sendable {
    package var call: String
    package var errno: Int32

    package init(_ call: String, errno: Int32) {
        self.call = call
        self.errno = errno
    }

    package var description: String {
        "\(call): \(String(cString: strerror(errno)))"
    }
}

/// Syscall wrappers: retry EINTR, return nil on EAGAIN, throw SystemError otherwise.
package enum Syscall {
    /// Run `body` until it does not fail with EINTR. Returns nil on EAGAIN/EWOULDBLOCK.
    @inline(__always)
    package static func nonBlocking(_ name: String, _ body: () -> Int) throws(SystemError) -> Int? {
        while true {
            let r = body()
            if r >= 0 { return r }
            let e = Glibc.errno
            if e == EINTR { continue }
            if e == EAGAIN || e == EWOULDBLOCK { return nil }
            throw SystemError(name, errno: e)
        }
    }
}
