import LBCCore

/// Discovery answered by polling instead of a callback (the C API's
/// lbc_options_set_lookup_queue): when a lookup is due, the channel's lookup thread
/// posts an event to a completion queue and waits; the application answers from its
/// own thread (`answer`), so none of its code runs on a library thread.
///
/// Used as the `LookupFunction` of an ordinary `LookupResolver`: the schedule,
/// backoff and "never twice at once" are the same as for a callback. `abandon`
/// (the channel is closing) releases a lookup waiting for an answer.
package final class PolledLookup: @unchecked Sendable {
    private let queue: CompletionQueue
    /// The caller's tag for LBC_EVENT_LOOKUP events.
    package let tag: UInt
    private let lock = Lock()
    private var due = false                                     // guarded by lock
    private var reply: Result<[String], LookupFailure>?         // guarded by lock
    private var abandoned = false                               // guarded by lock
    private var eventQueued = false                             // guarded by lock

    package init(queue: CompletionQueue, tag: UInt) {
        self.queue = queue
        self.tag = tag
    }

    /// The lookup function: announce the lookup, wait for the answer. Lookup thread.
    package func lookup(_ target: String) -> Result<[String], LookupFailure> {
        lock.lock()
        if abandoned {
            lock.unlock()
            return .failure(LookupFailure("the channel is closed"))
        }
        due = true
        reply = nil
        let announce = !eventQueued
        eventQueued = true
        lock.unlock()
        if announce && !queue.post(self) {
            lock.withLock {
                due = false
                eventQueued = false
            }
            return .failure(LookupFailure("the lookup queue was freed: nobody can answer"))
        }
        lock.lock()
        while reply == nil && !abandoned { lock.wait() }
        let result = reply ?? .failure(LookupFailure("the channel is closed"))
        due = false
        reply = nil
        lock.unlock()
        return result
    }

    /// The queue handed out this lookup's event: true when a lookup still awaits an
    /// answer (else the event is stale).
    package func takeEvent() -> Bool {
        lock.withLock {
            eventQueued = false
            return due && reply == nil && !abandoned
        }
    }

    /// Answer the due lookup; false when none is due (or it was answered already).
    package func answer(_ result: Result<[String], LookupFailure>) -> Bool {
        let accepted = lock.withLock { () -> Bool in
            guard due, reply == nil, !abandoned else { return false }
            reply = result
            return true
        }
        if accepted { lock.broadcast() }
        return accepted
    }

    /// The channel is closing: a waiting lookup returns a failure, none waits again.
    package func abandon() {
        lock.withLock { abandoned = true }
        lock.broadcast()
    }
}
