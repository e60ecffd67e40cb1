import CAres
import CLBCShim
import Glibc
import LBCCore
import XCTest
@testable import LBCTransport

/// The descriptors a forked child swaps for /dev/null (`lbcshim_fd_track`) are exactly
/// the library's open ones: tracked from creation, forgotten when closed — a stale entry
/// would make a child overwrite a descriptor that is no longer the library's.
final class DescriptorTrackingTests: XCTestCase {
    private func tracked() -> Set<Int32> {
        Set((0..<Int32(4096)).filter { lbcshim_fd_tracked($0) == 1 })
    }

    func testEventLoopAndQueueDescriptorsAreTrackedUntilClosed() throws {
        let before = tracked()
        var loop: EventLoop? = try EventLoop()
        var queue: CompletionQueue? = try CompletionQueue()
        let added = tracked().subtracting(before)
        XCTAssertEqual(added.count, 3, "epoll, its eventfd, the queue's eventfd: \(added)")
        XCTAssertTrue(added.contains(queue!.fd))
        loop = nil
        queue = nil
        XCTAssertNil(loop)
        XCTAssertNil(queue)
        XCTAssertEqual(tracked(), before)
    }

    func testSocketsAreTrackedUntilClosedAndAFailedConnectForgetsItsOwn() throws {
        let before = tracked()
        XCTAssertThrowsError(try Socket.connect(to: .unix(path: "/nonexistent/lbchannel-test.sock")))
        XCTAssertEqual(tracked(), before)

        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(listener) }
        let port = try XCTUnwrap(bindLoopback(listener) { fd, _, _ in listen(fd, 1) == 0 })
        let (fd, _) = try Socket.connect(to: .ipv4(host: "127.0.0.1", port: port))
        XCTAssertEqual(tracked().subtracting(before), [fd])
        lbcshim_fd_close(fd)
        XCTAssertEqual(tracked(), before)
    }
}

/// c-ares' sockets go through the same table (`lbcshim_ares_socket_functions`): made
/// non-blocking and close-on-exec (c-ares configures nothing itself then), tracked while
/// open, forgotten when c-ares closes them.
final class AresSocketFunctionsTests: XCTestCase {
    func testAresSocketsAreNonBlockingCloseOnExecAndTracked() throws {
        let functions = lbcshim_ares_socket_functions().assumingMemoryBound(to: ares_socket_functions.self).pointee
        let fd = functions.asocket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0, nil)
        XCTAssertGreaterThanOrEqual(fd, 0)
        XCTAssertEqual(lbcshim_fd_tracked(fd), 1)
        XCTAssertNotEqual(fcntl(fd, F_GETFL) & O_NONBLOCK, 0)
        XCTAssertNotEqual(fcntl(fd, F_GETFD) & FD_CLOEXEC, 0)
        // A datagram to ourselves through asendv / arecvfrom.
        XCTAssertNotNil(bindLoopback(fd) { fd, address, len in functions.aconnect(fd, address, len, nil) == 0 })
        var payload: [UInt8] = Array("ping".utf8)
        let sent = payload.withUnsafeMutableBytes { raw -> Int in
            var vec = iovec(iov_base: raw.baseAddress, iov_len: raw.count)
            return functions.asendv(fd, &vec, 1, nil)
        }
        XCTAssertEqual(sent, 4)
        var buffer = [UInt8](repeating: 0, count: 16)
        var got = -1
        for _ in 0..<100 where got < 0 {
            got = buffer.withUnsafeMutableBytes { functions.arecvfrom(fd, $0.baseAddress, $0.count, 0, nil, nil, nil) }
            if got < 0 { usleep(1000) }
        }
        XCTAssertEqual(Array(buffer.prefix(max(0, got))), Array("ping".utf8))
        XCTAssertEqual(functions.aclose(fd, nil), 0)
        XCTAssertEqual(lbcshim_fd_tracked(fd), 0)
    }
}

/// Bind `fd` to 127.0.0.1 on a free port, then `then(fd, its address, length)`; the port
/// (host order), or nil when a step failed.
private func bindLoopback(_ fd: Int32, then: (Int32, UnsafePointer<sockaddr>, socklen_t) -> Bool) -> UInt16? {
    var sa = sockaddr_in()
    sa.sin_family = sa_family_t(AF_INET)
    sa.sin_addr.s_addr = inet_addr("127.0.0.1")
    var len = socklen_t(MemoryLayout<sockaddr_in>.size)
    let ok = withUnsafeMutablePointer(to: &sa) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            bind(fd, $0, len) == 0 && getsockname(fd, $0, &len) == 0 && then(fd, $0, len)
        }
    }
    return ok ? UInt16(bigEndian: sa.sin_port) : nil
}
