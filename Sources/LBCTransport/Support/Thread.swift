import Glibc

/// What a new thread runs.
private final class ThreadEntry {
    let run: () -> Void
    init(_ run: @escaping () -> Void) { self.run = run }
}

/// Starting pthreads (no Foundation in the library).
package enum Thread {
    /// Start a thread running `body`; returns its handle for `pthread_join`.
    package static func start(_ body: @escaping () -> Void) throws(SystemError) -> pthread_t {
        let entry = Unmanaged.passRetained(ThreadEntry(body)).toOpaque()
        var tid = pthread_t()
        let rc = pthread_create(&tid, nil, { arg in
            Unmanaged<ThreadEntry>.fromOpaque(arg!).takeRetainedValue().run()
            return nil
        }, entry)
        if rc != 0 {
            Unmanaged<ThreadEntry>.fromOpaque(entry).release()
            throw SystemError("pthread_create", errno: rc)
        }
        return tid
    }

    /// Start a thread nobody joins.
    package static func startDetached(_ body: @escaping () -> Void) throws(SystemError) {
        let tid = try start(body)
        pthread_detach(tid)
    }
}
