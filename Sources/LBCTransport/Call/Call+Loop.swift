/// How a call enters the loop (a submitted task) and meets its deadline (a timer).
extension Call: LoopTask, TimerTarget {
    package func runOnLoop() {
        enteredLoop()
    }

    package func timerFired() {
        channel?.deadlineExpired(self)
    }

    package var timerCancelled: Bool { finished }
}
