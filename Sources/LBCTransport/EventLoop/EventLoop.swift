import CLBCShim
import Glibc

/// Work submitted to an event loop from any thread.
package protocol LoopTask: AnyObject {
    /// Runs on the loop thread.
    func runOnLoop()
}

/// A closure as a loop task.
private final class ClosureTask: LoopTask {
    let body: () -> Void
    init(_ body: @escaping () -> Void) { self.body = body }
    func runOnLoop() { body() }
}

/// Something with a file descriptor registered in an event loop.
package protocol FileDescriptorHandler: AnyObject {
    /// Called on the loop thread with the epoll event bits.
    func handleEvents(_ events: UInt32)
}

/// One thread running epoll: file descriptor events, timers, and work submitted
/// from other threads through a queue that is drained once per iteration.
///
/// Everything except `submit`, `start` and `stopAndJoin` must be called on the loop thread.
///
/// ```swift
/// let loop = try EventLoop(name: "lbchannel")
/// try loop.start()
/// loop.submit { print("on the loop thread") }
/// loop.stopAndJoin()
/// ```
package final class EventLoop: @unchecked Sendable {
    private let epfd: Int32
    private let wakeFd: Int32
    private static let wakeToken: UInt64 = .max

    private let queueLock = Lock()
    private var queue: [LoopTask] = []            // guarded by queueLock
    private var spare: [LoopTask] = []            // loop thread: the drained batch
    /// A wake-up is already on its way: the eventfd was written, or the loop thread is
    /// awake (outside epoll_wait) and drains the queue before it sleeps again, so
    /// `submit` needs no system call (guarded by queueLock).
    private var wakePending = true
    private var stopRequested = false              // guarded by queueLock

    /// Registered descriptors with their registration number (in the epoll data's
    /// high half), so an event read before an fd was closed and reused by inline
    /// work is not delivered to the new handler.
    private var handlers: [Int32: (handler: FileDescriptorHandler, generation: UInt32)] = [:]
    private var nextGeneration: UInt32 = 1
    private var timers = TimerQueue()
    private var thread: pthread_t?
    private let joinLock = Lock()
    /// The loop thread's pthread_t (0 until it runs); written by the loop thread,
    /// read from any thread, hence atomic.
    private let loopThreadID = UnsafeMutablePointer<UInt64>.allocate(capacity: 1)
    /// The thread running loop work inline (`runInline`), 0 when none; atomic.
    private let inlineThreadID = UnsafeMutablePointer<UInt64>.allocate(capacity: 1)
    /// Held by whoever runs loop work: the loop thread except while it waits in
    /// epoll_wait, or a caller running work inline then.
    private let runLock = Lock()
    /// The loop thread is between start and exit (guarded by runLock).
    private var running = false
    /// When the poller's epoll_wait (or the parked I/O thread) will time out at the
    /// latest (guarded by runLock).
    private var plannedWakeNs = Int64.max
    /// Who polls: the I/O thread or a blocking caller waiting for its result (see
    /// ``LoopLeadership`` for the rules); guarded by `leadLock`, whose condition
    /// variable the parked I/O thread waits on. Lock order: runLock, leadLock, queueLock.
    private let leadLock = Lock()
    private var leadership = LoopLeadership()

    /// Scratch buffer for socket reads; loop thread only, consumed before each read returns.
    package let readBuffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 64 * 1024, alignment: 16)

    /// Called on the loop thread at the end of every iteration (flush point).
    package var afterIteration: (() -> Void)?

    package init() throws(SystemError) {
        loopThreadID.initialize(to: 0)
        inlineThreadID.initialize(to: 0)
        let ep = lbcshim_epoll_create()
        if ep < 0 { throw SystemError("epoll_create1", errno: -ep) }
        let ev = lbcshim_eventfd()
        if ev < 0 {
            lbcshim_fd_close(ep)
            throw SystemError("eventfd", errno: -ev)
        }
        epfd = ep
        wakeFd = ev
        // Edge-triggered: every write to the eventfd is an edge, so the loop never needs
        // to read it back (one syscall less per wake-up); the 64-bit counter cannot fill.
        let rc = lbcshim_epoll_ctl(epfd, LBCSHIM_EPOLL_CTL_ADD, wakeFd, LBCSHIM_EPOLLIN | LBCSHIM_EPOLLET,
                                   EventLoop.wakeToken)
        if rc < 0 {
            lbcshim_fd_close(ep)
            lbcshim_fd_close(ev)
            throw SystemError("epoll_ctl", errno: -rc)
        }
    }

    deinit {
        loopThreadID.deallocate()
        inlineThreadID.deallocate()
        readBuffer.deallocate()
        lbcshim_fd_close(wakeFd)
        lbcshim_fd_close(epfd)
    }

    /// Start the loop thread.
    package func start() throws(SystemError) {
        thread = try Thread.start { [self] in run() }
    }

    /// True when called on this loop's thread.
    package var inLoopThread: Bool {
        let me = pthread_self()
        let id = lbcshim_atomic_load_u64(loopThreadID)
        if id != 0 && pthread_equal(pthread_t(id), me) != 0 { return true }
        let inline = lbcshim_atomic_load_u64(inlineThreadID)
        return inline != 0 && pthread_equal(pthread_t(inline), me) != 0
    }

    /// Run `task` inline when the loop is idle (`runInline`), else queue it
    /// (`submit`). False when the loop has stopped and the task was dropped.
    package func execute(_ task: LoopTask) -> Bool {
        if runInline({ task.runOnLoop() }) {
            ensurePoller()
            return true
        }
        return submit(task)
    }

    /// `execute` for a blocking caller that will wait for the result with `lead`
    /// next (which polls itself or makes sure someone does).
    package func executeThenLead(_ task: LoopTask) -> Bool {
        runInline(thenLead: true) { task.runOnLoop() } || submit(task)
    }

    /// `execute` for work of a call whose waiter may lead (a blocking stream's send or
    /// window update): when it ran inline, the parked I/O thread is resumed only if
    /// nobody polls and no waiter is expected back (``LoopLeadership/ledCallWork()``).
    package func executeForLedCall(_ task: LoopTask) -> Bool {
        if runInline(thenLead: true, { task.runOnLoop() }) {
            leadLock.lock()
            let unpark = leadership.ledCallWork()
            leadLock.unlock()
            if unpark { leadLock.broadcast() }
            return true
        }
        return submit(task)
    }

    /// A call no blocking caller waits for started (true) or ended (false): the I/O
    /// thread does not park while one is in flight. Any thread.
    package func noteWaiterlessCall(started: Bool) {
        leadLock.lock()
        let unpark = leadership.waiterlessCall(started: started)
        leadLock.unlock()
        if unpark { leadLock.broadcast() }
    }

    /// Resume the parked I/O thread when nobody polls (after work that expects answers).
    private func ensurePoller() {
        leadLock.lock()
        let unpark = leadership.needPoller()
        leadLock.unlock()
        if unpark { leadLock.broadcast() }
    }

    /// Run `body` as loop work on the calling thread when the loop thread is idle
    /// (waiting in epoll_wait) and nothing is queued, so that starting work costs
    /// no wake-up and no context switch; then flush. Returns false, without running
    /// `body`, when the loop is busy, has queued work, is stopped, or this thread is
    /// already running loop work: the caller then submits the work instead.
    /// With `thenLead` (the caller polls for its result next), a timer the work added
    /// does not resume a parked I/O thread when nobody polls: the caller will lead
    /// and run it.
    package func runInline(thenLead: Bool = false, _ body: () -> Void) -> Bool {
        guard runLock.tryLock() else { return false }
        // Work submitted earlier (by this thread, say: an endpoint update) runs first:
        // with anything queued, queue this too, so everything keeps its order.
        let idle = queueLock.withLock { queue.isEmpty && !stopRequested }
        guard running && idle else {
            runLock.unlock()
            return false
        }
        lbcshim_atomic_store_u64(inlineThreadID, UInt64(pthread_self()))
        body()
        afterIteration?()
        lbcshim_atomic_store_u64(inlineThreadID, 0)
        // A timer earlier than the loop thread's planned wake-up needs it awake sooner.
        var wakeEarlier = (timers.nextDeadline() ?? Int64.max) < plannedWakeNs
        if wakeEarlier && thenLead {
            leadLock.lock()
            // Nobody polls: the caller leads next, or (a queued call) a poller expected
            // back does, or the I/O thread was resumed for the call already.
            if !leadership.ioThreadPolls && !leadership.callerLeads { wakeEarlier = false }
            leadLock.unlock()
        }
        runLock.unlock()
        if wakeEarlier { wake() }
        return true
    }

    /// Run `work` on the loop thread soon. Any thread. Wakes the loop at most once per
    /// batch. Returns false (and drops `work`) once the loop has been asked to stop.
    @discardableResult
    package func submit(_ work: @escaping () -> Void) -> Bool {
        submit(ClosureTask(work))
    }

    /// Run `task.runOnLoop()` on the loop thread soon; see `submit(_:)`.
    @discardableResult
    package func submit(_ task: LoopTask) -> Bool {
        let work = task
        queueLock.lock()
        if stopRequested {
            queueLock.unlock()
            return false
        }
        queue.append(work)
        let needWake = !wakePending
        wakePending = true
        queueLock.unlock()
        if needWake { wake() }
        return true
    }

    /// Queue `work` as the last item the loop will ever run, then stop. Later
    /// submissions are refused. Any thread; a second call is ignored.
    package func submitFinal(_ work: @escaping () -> Void) {
        queueLock.lock()
        if stopRequested {
            queueLock.unlock()
            return
        }
        queue.append(ClosureTask(work))
        stopRequested = true
        wakePending = true
        queueLock.unlock()
        wake()
    }

    /// Wait for the loop thread to exit (after `submitFinal`). Must not be called on the loop thread.
    package func stopAndJoin() {
        queueLock.withLock { stopRequested = true }
        wake()
        joinLock.lock()
        if let t = thread, !inLoopThread {
            pthread_join(t, nil)
            thread = nil
        }
        joinLock.unlock()
    }

    /// Wake the poller: the eventfd for a thread in epoll_wait, the condition for the
    /// parked I/O thread when nobody polls.
    private func wake() {
        leadLock.lock()
        let unpark = leadership.needPoller()
        leadLock.unlock()
        if unpark {
            leadLock.broadcast()
            return
        }
        var one: UInt64 = 1
        _ = withUnsafeBytes(of: &one) { write(wakeFd, $0.baseAddress, 8) }
    }

    // MARK: loop-thread API

    /// Register `fd` for `events` (EPOLLIN/EPOLLOUT bits).
    package func register(fd: Int32, events: UInt32, handler: FileDescriptorHandler) throws(SystemError) {
        let generation = nextGeneration
        nextGeneration = nextGeneration &+ 1 == 0 ? 1 : nextGeneration &+ 1
        let rc = lbcshim_epoll_ctl(epfd, LBCSHIM_EPOLL_CTL_ADD, fd, events, Self.token(fd, generation))
        if rc < 0 { throw SystemError("epoll_ctl(ADD)", errno: -rc) }
        handlers[fd] = (handler, generation)
    }

    /// Change the events `fd` is watched for.
    package func modify(fd: Int32, events: UInt32) {
        guard let generation = handlers[fd]?.generation else { return }
        _ = lbcshim_epoll_ctl(epfd, LBCSHIM_EPOLL_CTL_MOD, fd, events, Self.token(fd, generation))
    }

    /// Stop watching `fd` (does not close it).
    package func unregister(fd: Int32) {
        _ = lbcshim_epoll_ctl(epfd, LBCSHIM_EPOLL_CTL_DEL, fd, 0, 0)
        handlers[fd] = nil
    }

    /// Run `action` on the loop thread at `deadlineNs` (monotonic). The returned
    /// handle cancels it.
    @discardableResult
    package func schedule(at deadlineNs: Int64, _ action: @escaping () -> Void) -> ClosureTimer {
        let timer = ClosureTimer(action)
        timers.schedule(at: deadlineNs, timer)
        return timer
    }

    /// Call `target.timerFired()` at `deadlineNs` unless it reports `timerCancelled`
    /// by then; call `timerCancelled()` when it does, so memory can be reclaimed.
    package func schedule(at deadlineNs: Int64, target: TimerTarget) {
        timers.schedule(at: deadlineNs, target)
    }

    /// Cancel a closure timer.
    package func cancelTimer(_ timer: ClosureTimer) {
        timer.cancel()
        timers.noteCancelled()
    }

    /// Note that a target timer was cancelled (its `timerCancelled` became true).
    package func timerCancelled() {
        timers.noteCancelled()
    }

    /// Monotonic time in nanoseconds.
    package static func now() -> Int64 { lbcshim_now_ns() }

    /// Monotonic nanoseconds `ms` milliseconds from now, saturating at Int64.max (a
    /// huge timeout or interval means "practically never", not an overflow trap).
    package static func deadline(afterMs ms: Int64) -> Int64 {
        let (sum, overflow) = now().addingReportingOverflow(nanoseconds(ms: ms))
        return overflow ? Int64.max : sum
    }

    /// `ms` as nanoseconds, saturating at Int64.max (negative values count as 0).
    package static func nanoseconds(ms: Int64) -> Int64 {
        let (ns, overflow) = max(ms, 0).multipliedReportingOverflow(by: 1_000_000)
        return overflow ? Int64.max : ns
    }

    /// The epoll data of `fd`'s registration number `generation`.
    private static func token(_ fd: Int32, _ generation: UInt32) -> UInt64 {
        UInt64(generation) << 32 | UInt64(UInt32(bitPattern: fd))
    }

    // MARK: the loop

    /// The epoll timeout until the next timer (or `deadlineNs`); sets `plannedWakeNs`.
    /// Under runLock.
    private func plannedTimeout(deadlineNs: Int64?) -> Int32 {
        plannedWakeNs = Int64.max
        let next = min(timers.nextDeadline() ?? .max, deadlineNs ?? .max)
        guard next != .max else { return -1 }
        let now = EventLoop.now()
        let delta = next - now
        let timeoutMs = delta <= 0 ? 0 : Int32(min((delta + 999_999) / 1_000_000, 60_000))
        plannedWakeNs = now + Int64(timeoutMs) * 1_000_000
        return timeoutMs
    }

    /// Before sleeping: true when work is queued (or a stop requested); otherwise
    /// submitters must write the eventfd from now on.
    private func queueCheckBeforeSleep() -> Bool {
        queueLock.lock()
        let queued = !queue.isEmpty || stopRequested
        if !queued { wakePending = false }
        queueLock.unlock()
        return queued
    }

    /// One iteration's work after epoll_wait returned `n` events: handlers, submitted
    /// work, due timers, the flush. Under runLock. Returns true when the loop must
    /// stop; with `mayStop` false (a leading caller) the queue is left alone once a
    /// stop was requested, for the I/O thread to run its final work.
    private func iterate(_ events: UnsafeBufferPointer<lbcshim_event>, _ n: Int, mayStop: Bool) -> Bool {
        for i in 0..<n {
            let ev = events[i]
            if ev.data == EventLoop.wakeToken {
                continue  // the queue is drained below
            } else if let entry = handlers[Int32(truncatingIfNeeded: ev.data)],
                      entry.generation == UInt32(truncatingIfNeeded: ev.data >> 32) {
                entry.handler.handleEvents(ev.events)
            }
        }
        // Drain submitted work: swap the queue with the spare buffer under the lock.
        queueLock.lock()
        let stop = stopRequested
        if stop && !mayStop {
            queueLock.unlock()
            return true
        }
        swap(&queue, &spare)
        wakePending = true  // awake until the check before the next epoll_wait
        queueLock.unlock()
        for i in spare.indices { spare[i].runOnLoop() }
        spare.removeAll(keepingCapacity: true)
        // Fire due timers.
        let due = timers.popDue(nowNs: EventLoop.now())
        for target in due { target.timerFired() }
        afterIteration?()
        return stop
    }

    /// The I/O thread, under runLock at the end of an iteration: park while blocking
    /// callers lead. Returns nil when it did not park, else whether its next poll
    /// must not block (a grace period ended: a check for due timers and events).
    private func parkIfCallersLead() -> Bool? {
        leadLock.lock()
        guard leadership.callersActive else {
            leadLock.unlock()
            return nil
        }
        let now = EventLoop.now()
        guard !queueCheckBeforeSleep(),
              leadership.ioThreadMayPark(nowNs: now, nextTimerNs: timers.nextDeadline()) else {
            leadLock.unlock()
            return nil
        }
        plannedWakeNs = leadership.parkDeadlineNs
        runLock.unlock()
        var checkOnly = false
        while true {
            switch leadership.ioThreadWoke(nowNs: EventLoop.now()) {
            case .resume(let check):
                checkOnly = check
            case .waitUntil(let deadline):
                _ = leadLock.wait(untilNs: deadline)
                continue
            }
            break
        }
        leadLock.unlock()
        runLock.lock()
        return checkOnly
    }

    /// Called by a blocking caller whose call is in flight, before it waits: poll the
    /// loop on this thread until `isDone()` (checked under the run lock) when nobody
    /// else polls (the I/O thread is parked), running handlers, submitted work,
    /// timers (and `onDeadline` once `deadlineNs` has passed) as the I/O thread
    /// would. Returns true when `isDone()` became true; false when another thread
    /// polls (the caller is then a follower: it waits on its completion, and calls
    /// `followerDone` unless the call ended first — see `followerDone`) or the loop
    /// is stopping.
    package func lead(until isDone: () -> Bool, deadlineNs: Int64?, onDeadline: () -> Void,
                      registerFollower: () -> Bool) -> Bool {
        leadLock.lock()
        let stopping = queueLock.withLock { stopRequested }
        if !leadership.callerAsksToLead(stopping: stopping) {
            // Counted as a follower only while the call is still in flight.
            if !registerFollower() { leadership.followerDone() }
            leadLock.unlock()
            return false
        }
        leadLock.unlock()
        return pollAsLeader(until: isDone, deadlineNs: deadlineNs, onDeadline: onDeadline,
                            began: {}, leaving: { false })
    }

    /// How a completion-queue poller waits (``leadForQueue``).
    package enum QueueWait: Equatable, Sendable {
        /// It led until its wait was over (an item, a close, its timeout, a stop).
        case led
        /// It follows: it waits on its queue, registered as a follower until an item
        /// is posted there or it calls `endQueueFollowing`.
        case follow
        /// Nothing to lead for (no queued call in flight, or a stopping loop): it
        /// waits on its queue, not registered.
        case wait
        /// Its queue already had an item (or was closed): no wait.
        case ready
    }

    /// Called by a thread about to wait on a completion queue bound to this loop
    /// (see ``LoopLeadership``): polls the loop until `isDone()` (checked under the
    /// run lock: the queue has an item or was closed, or `deadlineNs` passed) when
    /// queued calls are in flight and nobody else polls. Under the leadership lock,
    /// `isReady` says the queue already has an item or was closed (no wait), and
    /// `registerFollower` registers the poller as a follower of the queue when it
    /// does not lead. `began` and `leaving` run under the run lock when it starts and
    /// stops leading (`leaving` returns true when the wait ended with items to return).
    package func leadForQueue(until isDone: () -> Bool, deadlineNs: Int64?, isReady: () -> Bool,
                              registerFollower: () -> Void, began: () -> Void,
                              leaving: () -> Bool) -> QueueWait {
        leadLock.lock()
        if isReady() {
            leadLock.unlock()
            return .ready
        }
        let stopping = queueLock.withLock { stopRequested }
        let role = leadership.pollerAsksToLead(stopping: stopping)
        if role == .follows { registerFollower() }
        leadLock.unlock()
        switch role {
        case .waits: return .wait
        case .follows: return .follow
        case .leads: break
        }
        var timedOut = false
        _ = pollAsLeader(until: { timedOut || isDone() }, deadlineNs: deadlineNs, onDeadline: { timedOut = true },
                         began: began, leaving: leaving)
        return .led
    }

    /// Completion-queue followers stopped waiting: `release` runs under the
    /// leadership lock and returns how many (`returned`: because an item was posted).
    /// Any thread.
    package func endQueueFollowing(returned: Bool, _ release: () -> Int) {
        leadLock.lock()
        leadership.queueFollowersDone(release(), returned: returned)
        leadLock.unlock()
    }

    /// An asynchronous call on a completion queue bound to this loop started (true)
    /// or ended (false). Any thread.
    package func noteQueuedCall(started: Bool) {
        leadLock.lock()
        let unpark = leadership.queuedCall(started: started)
        leadLock.unlock()
        if unpark { leadLock.broadcast() }
    }

    /// Wake the thread polling the loop (after posting to a queue whose poller leads).
    package func wakePoller() { wake() }

    /// The leader's loop (see `lead`): returns true when `isDone()` became true, false
    /// when the loop is stopping.
    private func pollAsLeader(until isDone: () -> Bool, deadlineNs: Int64?, onDeadline: () -> Void,
                              began: () -> Void, leaving: () -> Bool) -> Bool {
        let me = UInt64(pthread_self())
        var done = false
        var workPending = false
        var nextTimer: Int64?
        withUnsafeTemporaryAllocation(of: lbcshim_event.self, capacity: 16) { events in
            runLock.lock()
            began()
            while true {
                lbcshim_atomic_store_u64(inlineThreadID, me)
                if isDone() {
                    done = true
                    break
                }
                if let deadlineNs, EventLoop.now() >= deadlineNs {
                    onDeadline()
                    afterIteration?()
                    continue
                }
                lbcshim_atomic_store_u64(inlineThreadID, 0)
                var timeoutMs = plannedTimeout(deadlineNs: deadlineNs)
                if queueCheckBeforeSleep() { timeoutMs = 0 }
                runLock.unlock()
                let n = lbcshim_epoll_wait(epfd, events.baseAddress, Int32(events.count), timeoutMs)
                queueLock.withLock { wakePending = true }
                runLock.lock()
                lbcshim_atomic_store_u64(inlineThreadID, me)
                if iterate(UnsafeBufferPointer(events), Int(max(n, 0)), mayStop: false) { break }
            }
            lbcshim_atomic_store_u64(inlineThreadID, 0)
            let returns = leaving()
            workPending = queueCheckBeforeSleep()
            nextTimer = timers.nextDeadline()
            leadLock.lock()
            let unpark = leadership.leaderLeaves(workPending: workPending, nextTimerNs: nextTimer,
                                                 pollerReturns: returns)
            leadLock.unlock()
            runLock.unlock()
            if unpark { leadLock.broadcast() }
        }
        // Not done: the loop is stopping; the I/O thread (resumed above) ends the call
        // with its final work while the caller waits on its completion.
        return done
    }

    /// A call whose caller follows ended (under the loop's run lock): `endFollowing`
    /// runs under the leadership lock and returns true when the caller had registered
    /// as a follower (it no longer needs a poller).
    package func callEnded(_ endFollowing: () -> Bool) {
        leadLock.lock()
        if endFollowing() { leadership.followerDone() }
        leadLock.unlock()
    }

    private func run() {
        lbcshim_atomic_store_u64(loopThreadID, UInt64(pthread_self()))
        var events = [lbcshim_event](repeating: lbcshim_event(), count: 64)
        runLock.lock()
        running = true
        var skippedWait = false
        var checkOnly = false
        while true {
            var timeoutMs = plannedTimeout(deadlineNs: nil)
            // Work submitted while the loop was awake (no eventfd write: see
            // `wakePending`) runs without sleeping first; descriptors are still polled
            // (without waiting) every other iteration, so a stream of submissions
            // cannot starve them. Otherwise submitters must write the eventfd from now on.
            let queued = queueCheckBeforeSleep()
            var n: Int32 = 0
            if queued && !skippedWait {
                skippedWait = true
            } else {
                skippedWait = false
                if queued || checkOnly { timeoutMs = 0 }
                checkOnly = false
                runLock.unlock()
                n = events.withUnsafeMutableBufferPointer {
                    lbcshim_epoll_wait(epfd, $0.baseAddress, 64, timeoutMs)
                }
                // Awake: what is submitted from now on (say by a caller this iteration
                // completes) is drained below or before the next sleep.
                queueLock.withLock { wakePending = true }
                runLock.lock()
            }
            let stop = events.withUnsafeBufferPointer { iterate($0, Int(n), mayStop: true) }
            if stop { break }
            // Blocking callers are active and none is waiting for another poller: park,
            // so the next one polls for its own result (see LoopLeadership).
            if let parked = parkIfCallersLead() { checkOnly = parked }
        }
        afterIteration = nil
        handlers.removeAll()
        timers.removeAll()
        running = false
        runLock.unlock()
        // pthread_t values are reused: a later thread must not pass for this one.
        lbcshim_atomic_store_u64(loopThreadID, 0)
    }
}
