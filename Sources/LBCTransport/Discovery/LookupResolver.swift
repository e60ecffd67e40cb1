import Glibc
import LBCCore

/// What a custom lookup function returns: address texts ("10.0.0.1:50051",
/// "[::1]:50051", "unix:/path") or an error message.
package typealias LookupFunction = @Sendable (_ target: String) -> Result<[String], LookupFailure>

/// A failed custom lookup.
package struct LookupFailure: Error, Sendable {
    package var message: String
    package init(_ message: String) { self.message = message }
}

/// Runs a caller-supplied lookup function (ginepro's `LookupService`) on a dedicated
/// thread, never on the I/O loop, so a slow callback never stalls traffic.
package final class LookupResolver: Resolver, @unchecked Sendable {
    package let kind = "lookup"
    private let loop: EventLoop
    private let target: String
    private let function: LookupFunction
    private let lock = Lock()
    private var job: (() -> Void)?      // guarded by lock
    private var stopping = false        // guarded by lock
    private var thread: pthread_t?      // guarded by lock

    package init(loop: EventLoop, target: String, function: @escaping LookupFunction) throws(ChannelError) {
        self.loop = loop
        self.target = target
        self.function = function
        do {
            let t = try Thread.start { [self] in runWorker() }
            lock.withLock { thread = t }
        } catch {
            throw .system(error)
        }
    }

    /// True on the thread that runs the lookup function.
    package var onWorkerThread: Bool {
        guard let t = lock.withLock({ thread }) else { return false }
        return pthread_equal(t, pthread_self()) != 0
    }

    package func resolve(_ completion: @escaping (ResolutionResult) -> Void) {
        let loop = self.loop, target = self.target, function = self.function
        lock.withLock {
            job = { [unowned self] in
                // A close from a callback may have stopped us since the job was queued.
                guard !lock.withLock({ stopping }) else { return }
                let result = LookupResolver.run(function, target: target)
                _ = loop.submit { completion(result) }
            }
        }
        lock.broadcast()
    }

    /// Make the worker exit once a running callback returns, without waiting. Any thread.
    package func requestStop() {
        // Dropping a job that never ran also releases the channel its completion holds.
        lock.withLock {
            stopping = true
            job = nil
        }
        lock.broadcast()
    }

    /// Stop the worker and wait for a running callback to return.
    package func shutDown() {
        requestStop()
        let joinable = lock.withLock { () -> pthread_t? in
            defer { thread = nil }
            return thread
        }
        if let t = joinable { pthread_join(t, nil) }
    }

    private func runWorker() {
        while true {
            lock.lock()
            while job == nil && !stopping { lock.wait() }
            if stopping {
                lock.unlock()
                return
            }
            let work = job!
            job = nil
            lock.unlock()
            work()
        }
    }

    /// Call the function and validate its answer.
    static func run(_ function: LookupFunction, target: String) -> ResolutionResult {
        switch function(target) {
        case .failure(let failure):
            return .failure("lookup failed: \(failure.message)")
        case .success(let texts):
            var addresses: [EndpointAddress] = []
            var weights: [EndpointAddress: Int] = [:]
            for text in texts {
                do {
                    let (address, weight) = try EndpointAddress.parseWeighted(text)
                    if !addresses.contains(address) { addresses.append(address) }
                    if let weight { weights[address] = weight }
                } catch {
                    return .failure("lookup returned an invalid address: \(error.message)")
                }
            }
            return .addresses(addresses, ttlSeconds: nil, weights: weights)
        }
    }
}
