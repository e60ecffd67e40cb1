import CLBCShim
import Glibc

/// A pthread mutex with a condition variable (no Foundation in the library).
package final class Lock: @unchecked Sendable {
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let cond = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)

    package init() {
        pthread_mutex_init(mutex, nil)
        var attr = pthread_condattr_t()
        pthread_condattr_init(&attr)
        pthread_condattr_setclock(&attr, CLOCK_MONOTONIC)
        pthread_cond_init(cond, &attr)
        pthread_condattr_destroy(&attr)
    }

    deinit {
        pthread_cond_destroy(cond)
        pthread_mutex_destroy(mutex)
        cond.deallocate()
        mutex.deallocate()
    }

    package func lock() { pthread_mutex_lock(mutex) }
    package func unlock() { pthread_mutex_unlock(mutex) }

    /// Take the lock if it is free (also false when this thread holds it).
    package func tryLock() -> Bool { pthread_mutex_trylock(mutex) == 0 }

    @inline(__always)
    package func withLock<T>(_ body: () throws -> T) rethrows -> T {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body()
    }

    /// Wait on the condition; the lock must be held.
    package func wait() { pthread_cond_wait(cond, mutex) }

    /// Wait on the condition until woken or until `deadlineNs` (monotonic); the lock
    /// must be held. Returns false once the deadline has passed.
    package func wait(untilNs deadlineNs: Int64) -> Bool {
        if lbcshim_now_ns() >= deadlineNs { return false }
        var ts = timespec(tv_sec: Int(deadlineNs / 1_000_000_000), tv_nsec: Int(deadlineNs % 1_000_000_000))
        pthread_cond_timedwait(cond, mutex, &ts)
        return lbcshim_now_ns() < deadlineNs
    }

    /// Wake every waiter; call with or without the lock held.
    package func broadcast() { pthread_cond_broadcast(cond) }
}

/// A one-shot event a thread can wait for: a futex word, so signalling costs one
/// atomic exchange plus a wake-up only when the waiter sleeps, and the waiter wakes
/// once (a mutex + condition variable can wake it twice).
package final class Completion: @unchecked Sendable {
    private let word = UnsafeMutablePointer<UInt32>.allocate(capacity: 1)

    package init() { word.initialize(to: 0) }

    deinit { word.deallocate() }

    package func signal() { lbcshim_event_signal(word) }

    /// Make a signalled completion waitable again.
    package func reset() { lbcshim_event_reset(word) }

    package func wait() { lbcshim_event_wait(word) }

    /// Wait until signalled or until `deadlineNs` (monotonic). Returns true when signalled.
    package func wait(untilNs deadlineNs: Int64) -> Bool {
        lbcshim_event_wait_until(word, deadlineNs) != 0
    }

    private static let key: pthread_key_t = {
        var key = pthread_key_t()
        pthread_key_create(&key) { Unmanaged<Completion>.fromOpaque($0!).release() }
        return key
    }()

    /// The calling thread's reusable completion (a thread waits for one thing at a time).
    package static func forCurrentThread() -> Completion {
        if let p = pthread_getspecific(key) {
            return Unmanaged<Completion>.fromOpaque(p).takeUnretainedValue()
        }
        let completion = Completion()
        pthread_setspecific(key, Unmanaged.passRetained(completion).toOpaque())
        return completion
    }
}
