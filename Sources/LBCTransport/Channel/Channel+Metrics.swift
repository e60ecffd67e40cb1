import LBCCore

/// Per-method metrics (``MethodMetrics``) on the loop thread: the call starts when it
/// enters the loop (`admit`), an attempt starts there and with each retry,
/// transparent retry and hedged copy, an attempt ends where the call leaves its
/// endpoint (`callEnded`) or the call ends, the call ends in `finish`. Internal
/// streams (health checks) are not counted: their `methodKey` stays -1.
extension Channel {
    /// `call` entered the loop at `now`: intern its method, start its call duration.
    @inline(__always)
    func metricsCallAdmitted(_ call: Call, nowNs now: Int64) {
        call.methodKey = methodMetrics.key(for: call.method)
        call.admittedNs = now
    }

    /// An attempt of `call` starts at `now` (before its pick).
    @inline(__always)
    func metricsAttemptStarted(_ call: Call, nowNs now: Int64) {
        guard call.methodKey >= 0 else { return }
        methodMetrics.attemptStarted(call.methodKey)
        call.attemptStartNs = now
    }

    /// The open attempt of `call`, if any, ended with `status` at `now`.
    @inline(__always)
    func metricsAttemptEnded(_ call: Call, status: StatusCode, nowNs now: Int64) {
        guard call.attemptStartNs >= 0, call.methodKey >= 0 else { return }
        methodMetrics.attemptEnded(call.methodKey, status: status, ns: now - call.attemptStartNs)
        call.attemptStartNs = -1
    }

    /// `call` ended with `status` at `now`: its open attempt and the call itself.
    @inline(__always)
    func metricsCallEnded(_ call: Call, status: StatusCode, nowNs now: Int64) {
        guard call.methodKey >= 0 else { return }
        metricsAttemptEnded(call, status: status, nowNs: now)
        if call.admittedNs >= 0 {
            methodMetrics.callEnded(call.methodKey, status: status, ns: now - call.admittedNs)
        }
    }
}
