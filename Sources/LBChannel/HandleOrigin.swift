import CLBCShim

/// The process a handle belongs to, as the fork generation it was made in.
///
/// A child of `fork()` (without exec) inherits the parent's handles but none of the
/// threads behind them (a channel's I/O thread, a caller blocked in a call), and any
/// lock such a thread held stays locked for ever. Every C entry point that takes a
/// channel, completion queue or call handle checks its origin first and fails with
/// `LBC_ERR_FORKED` in a child; closing or freeing such a handle in the child only
/// forgets it (leaks the parent's copy: nothing of it can be torn down safely there).
///
///     let origin = HandleOrigin()          // when the handle is made
///     if let error = origin.refuse("lbc_call_send", "call") { return error.record() }
struct HandleOrigin {
    /// `lbcshim_fork_generation()` when the handle was made.
    let generation: UInt32

    init() { generation = lbcshim_fork_generation() }

    /// True in the process that made the handle (not in a forked child of it).
    @inline(__always)
    var isCurrent: Bool { generation == lbcshim_fork_generation() }

    /// nil in the process that made the handle; in a forked child the
    /// LBC_ERR_FORKED error for `function` used with a `what` ("channel", "call"...).
    @inline(__always)
    func refuse(_ function: String, _ what: String, handle: UnsafeRawPointer? = nil) -> CodedError? {
        isCurrent ? nil : forkedError(function, what, handle: handle)
    }

    @inline(never)
    private func forkedError(_ function: String, _ what: String, handle: UnsafeRawPointer?) -> CodedError {
        let now = lbcshim_fork_generation()
        let parent = now &- generation == 1 ? "process \(lbcshim_fork_parent_pid())" : "an ancestor process"
        return CodedError(.forked, "\(function): the \(what) was opened in \(parent) before fork(); it cannot "
                          + "be used in the child (process \(lbcshim_getpid())), where its I/O thread does not "
                          + "exist: open a new \(what) in the child", handle)
    }

    /// lbc_channel_open's refusal in a forked child of a build whose Swift runtime
    /// cannot be made fork-safe (linked dynamically: the fork handler cannot reach its
    /// thread-id cache, and the child's first channel could spin for ever); nil when
    /// channels may be opened here.
    static func refuseOpenInChild() -> CodedError? {
        guard lbcshim_fork_generation() != 0, lbcshim_fork_child_supported() == 0 else { return nil }
        return CodedError(.forked, "lbc_channel_open: this process is a child forked (without exec) from process "
                          + "\(lbcshim_fork_parent_pid()), and this build of liblbchannel links the Swift runtime "
                          + "dynamically, whose locks do not survive fork(); start workers with exec (Python "
                          + "multiprocessing: the \"spawn\" or \"forkserver\" start method) or use the release "
                          + "build (make), which is fork-safe")
    }
}
