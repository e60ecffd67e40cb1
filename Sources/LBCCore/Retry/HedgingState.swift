/// The copies of one hedged unary call (gRFC A6 hedging), without I/O: when to send
/// another copy, and which ending decides the call.
///
/// The first copy starts at once and another every `delayMs` while none has
/// answered, up to `maxAttempts`. An OK or fatal status from any copy commits the
/// call: the owner delivers it and cancels the others. A non-fatal status does not;
/// when it leaves no copy in flight the next one starts at once (if the policy and
/// the throttle allow), otherwise the call ends with that status. A pushback
/// (`grpc-retry-pushback-ms`) moves the next copy to that delay, or, when invalid,
/// stops new copies. The throttle counts non-fatal failures and OK calls, and no
/// further copy starts while it is at half or less.
///
/// ```swift
/// var hedge = HedgingState(policy: HedgingPolicy(maxAttempts: 2, delayMs: 50, nonFatalStatusMask: 0))
/// let first = hedge.start()                        // .startAttempt(nextInNs: 50_000_000)
/// let second = hedge.timerFired(throttle: &t)      // .startAttempt(nextInNs: nil)
/// hedge.attemptEnded(status: .ok, pushback: nil, throttle: &t)   // .commit
/// ```
package struct HedgingState: Sendable {
    /// What the owner does after an event.
    package enum Action: Equatable, Sendable {
        /// Nothing now.
        case none
        /// Start one more copy; arm the hedging timer for `nextInNs` (nil: disarm it).
        case startAttempt(nextInNs: Int64?)
        /// Re-arm the hedging timer for `inNs` (nil: disarm it); start nothing now.
        case rearm(inNs: Int64?)
        /// The copy that just ended decides the call: deliver its status and cancel
        /// the copies still in flight (and the timer).
        case commit
        /// The call ended already: ignore this copy.
        case ignore
    }

    /// The policy.
    package let policy: HedgingPolicy
    /// Copies started.
    package private(set) var started = 0
    /// Copies in flight.
    package private(set) var outstanding = 0
    /// A copy decided the call.
    package private(set) var committed = false
    /// A pushback said to send no more copies.
    private var stopped = false

    /// A hedged call that has not started.
    package init(policy: HedgingPolicy) {
        self.policy = policy
    }

    private var delayNs: Int64 { policy.delayMs * 1_000_000 }

    /// The call starts: its first copy.
    package mutating func start() -> Action {
        started = 1
        outstanding = 1
        return .startAttempt(nextInNs: started < policy.maxAttempts ? delayNs : nil)
    }

    /// The hedging timer fired.
    package mutating func timerFired(throttle: inout RetryThrottle?) -> Action {
        guard !committed, !stopped, started < policy.maxAttempts else { return .none }
        if let t = throttle, !t.allowsRetries { return .none }
        started += 1
        outstanding += 1
        return .startAttempt(nextInNs: started < policy.maxAttempts ? delayNs : nil)
    }

    /// A copy ended with `status` (and the server's pushback, if any).
    package mutating func attemptEnded(status: StatusCode, pushback: RetryState.Pushback?,
                                       throttle: inout RetryThrottle?) -> Action {
        outstanding -= 1
        if committed { return .ignore }
        if status == .ok || !policy.isNonFatal(status) {
            if status == .ok { throttle?.recordSuccess() }
            committed = true
            return .commit
        }
        let allowed = throttle.map { _ in throttle!.recordFailure() } ?? true
        var rearm: Int64?? = .none  // .none: leave the timer as it is
        switch pushback {
        case .stop?:
            stopped = true
            rearm = .some(nil)
        case .delayMs(let ms)?:
            rearm = .some(ms.multipliedReportingOverflow(by: 1_000_000).overflow ? Int64.max : ms * 1_000_000)
        case nil:
            break
        }
        let more = !stopped && allowed && started < policy.maxAttempts
        if outstanding == 0 {
            guard more else {
                committed = true
                return .commit
            }
            if case .some(let ns?) = rearm, ns > 0 { return .rearm(inNs: ns) }
            started += 1
            outstanding += 1
            return .startAttempt(nextInNs: started < policy.maxAttempts ? delayNs : nil)
        }
        if case .some(let ns) = rearm { return .rearm(inNs: more ? ns : nil) }
        return .none
    }
}
