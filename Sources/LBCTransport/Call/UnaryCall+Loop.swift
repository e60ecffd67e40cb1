/// How a call enters the loop (a submitted task) and meets its deadline (a timer).
extension UnaryCall: LoopTask, TimerTarget {
    package func runOnLoop() {
        channel?.admit(self)
    }

    package func timerFired() {
        channel?.deadlineExpired(self)
    }

    package var timerCancelled: Bool { finished }
}
