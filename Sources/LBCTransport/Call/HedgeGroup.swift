import LBCCore

/// The hedged copies of one unary call (loop thread only): the caller's call
/// (`parent`, which never goes on the wire itself), the copies in flight, the
/// timer that sends the next copy, and the ``HedgingState`` deciding it all.
final class HedgeGroup {
    /// The caller's call; it gets the winning copy's result.
    let parent: UnaryCall
    var state: HedgingState
    /// Copies started, in order (finished ones included: their peers are reported).
    var copies: [UnaryCall] = []
    /// The timer of the next copy.
    var timer: ClosureTimer?
    /// The parent ended: copies ending now change nothing.
    var done = false
    /// The channel running the copies (nil once the parent ended).
    weak var channel: Channel?

    init(parent: UnaryCall, policy: HedgingPolicy, channel: Channel) {
        self.parent = parent
        self.channel = channel
        self.state = HedgingState(policy: policy)
    }
}
