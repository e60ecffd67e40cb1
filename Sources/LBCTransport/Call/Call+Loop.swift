/// How a call enters the loop (a submitted task) and meets its deadline (a timer).
extension Call: LoopTask, TimerTarget {
    package func runOnLoop() {
        enteredLoop()
    }

    package func timerFired() {
        timerArmed = false  // out of the heap: nothing to note as cancelled later
        channel?.deadlineExpired(self)
    }

    package var timerCancelled: Bool { finished }
}

/// The deadline of a call watched by its waiting thread has passed: end it on the
/// loop like the deadline timer would (see `UnaryCall.waitForCompletion`).
final class DeadlineTask: LoopTask {
    let call: Call
    init(_ call: Call) { self.call = call }
    func runOnLoop() { call.channel?.deadlineExpired(call) }
}
