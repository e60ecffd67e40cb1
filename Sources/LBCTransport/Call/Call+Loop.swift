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
