/// A subscription to a channel's connectivity changes (lbc_channel_watch_connectivity):
/// where its events go and whether it wants endpoint changes too. Registered with
/// the channel's ``ConnectivityFeed``, which posts its events in order and its one
/// last event (``ConnectivityEvent/Flags/last``) when it is cancelled or the channel closes.
package final class ConnectivityWatch: @unchecked Sendable {
    let queue: CompletionQueue
    /// The application's tag, in every event of the watch.
    package let tag: UInt
    /// Also report endpoints' changes.
    package let endpoints: Bool

    package init(queue: CompletionQueue, tag: UInt, endpoints: Bool) {
        self.queue = queue
        self.tag = tag
        self.endpoints = endpoints
    }
}
