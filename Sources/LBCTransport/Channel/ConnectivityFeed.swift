import LBCCore

/// A channel's connectivity (``ChannelConnectivity``) readable from any thread, and
/// the watches its changes are posted to (lbc_channel_connectivity,
/// lbc_channel_watch_connectivity).
///
/// The loop thread reports endpoint events; each is O(1) plus one posted event per
/// interested watch. The lock orders everything: events of one watch are posted in
/// the order the changes happened, an endpoint's change before the channel change
/// it caused, and a watch's last event (cancel or shutdown) exactly once, after all
/// its other events. Lock order: feed, then a completion queue's lock.
///
/// ```swift
/// let feed = ConnectivityFeed(emptyState: .connecting)
/// let watch = feed.watch(queue: cq, tag: 7, endpoints: true)   // nil once shut down
/// feed.endpointAdded("127.0.0.1:50051", .idle)                 // loop thread
/// feed.state                                                   // .idle
/// feed.cancel(watch!)                                          // posts the last event
/// ```
package final class ConnectivityFeed: @unchecked Sendable {
    private let lock = Lock()
    private var aggregate: ChannelConnectivity      // guarded by lock
    private var watches: [ConnectivityWatch] = []   // guarded by lock
    /// Watches that want endpoint changes (skip building their events otherwise).
    private var endpointWatches = 0                 // guarded by lock

    package init(emptyState: ChannelConnectivity.State) {
        aggregate = ChannelConnectivity(emptyState: emptyState)
    }

    /// The channel's current state. Any thread.
    package var state: ChannelConnectivity.State { lock.withLock { aggregate.state } }

    /// Start posting changes to `queue` with `tag`; nil once the channel is shut down.
    /// Any thread.
    package func watch(queue: CompletionQueue, tag: UInt, endpoints: Bool) -> ConnectivityWatch? {
        lock.withLock {
            guard aggregate.state != .shutdown else { return nil }
            let watch = ConnectivityWatch(queue: queue, tag: tag, endpoints: endpoints)
            watches.append(watch)
            if endpoints { endpointWatches += 1 }
            return watch
        }
    }

    /// End `watch`: its last event (the current state, old state the same, flag
    /// LAST) is posted unless the watch ended already (the channel shut down, which
    /// posted its last event). Any thread. True when this call ended it.
    @discardableResult
    package func cancel(_ watch: ConnectivityWatch) -> Bool {
        lock.withLock {
            guard let i = watches.firstIndex(where: { $0 === watch }) else { return false }
            watches.remove(at: i)
            if watch.endpoints { endpointWatches -= 1 }
            let s = aggregate.state
            watch.queue.post(ConnectivityEvent(tag: watch.tag, flags: ConnectivityEvent.Flags.last,
                                               state: s, oldState: s))
            return true
        }
    }

    // MARK: loop thread

    /// An endpoint joined the set in `state`.
    package func endpointAdded(_ address: @autoclosure () -> String, _ state: ConnectivityState) {
        lock.withLock {
            guard aggregate.state != .shutdown else { return }
            let s = ChannelConnectivity.State(state)
            postEndpoint(address, ConnectivityEvent.Flags.added, state: s, oldState: s)
            postChannel(aggregate.endpointAdded(state))
        }
    }

    /// An endpoint of the set went from `old` to `new`.
    package func endpointChanged(_ address: @autoclosure () -> String, from old: ConnectivityState,
                                 to new: ConnectivityState) {
        lock.withLock {
            guard aggregate.state != .shutdown, old != new else { return }
            postEndpoint(address, 0, state: .init(new), oldState: .init(old))
            postChannel(aggregate.endpointChanged(from: old, to: new))
        }
    }

    /// An endpoint in `state` left the set.
    package func endpointRemoved(_ address: @autoclosure () -> String, _ state: ConnectivityState) {
        lock.withLock {
            guard aggregate.state != .shutdown else { return }
            postEndpoint(address, ConnectivityEvent.Flags.removed, state: .shutdown, oldState: .init(state))
            postChannel(aggregate.endpointRemoved(state))
        }
    }

    /// Discovery answered or failed (see ``ChannelConnectivity/discoveryAnswered()``).
    package func discoveryAnswered() {
        lock.withLock { postChannel(aggregate.discoveryAnswered()) }
    }

    /// The channel closes: SHUTDOWN, every watch gets its last event and ends.
    /// Any thread; idempotent.
    package func shutDown() {
        lock.withLock {
            guard let change = aggregate.shutDown() else { return }
            for watch in watches {
                watch.queue.post(ConnectivityEvent(tag: watch.tag, flags: ConnectivityEvent.Flags.last,
                                                   state: change.new, oldState: change.old))
            }
            watches.removeAll()
            endpointWatches = 0
        }
    }

    // MARK: private (lock held)

    private func postEndpoint(_ address: () -> String, _ flags: UInt32, state: ChannelConnectivity.State,
                              oldState: ChannelConnectivity.State) {
        guard endpointWatches > 0 else { return }
        let text = address()
        for watch in watches where watch.endpoints {
            watch.queue.post(ConnectivityEvent(tag: watch.tag, flags: flags | ConnectivityEvent.Flags.endpoint,
                                               state: state, oldState: oldState, address: text))
        }
    }

    private func postChannel(_ change: ChannelConnectivity.Change?) {
        guard let change else { return }
        for watch in watches {
            watch.queue.post(ConnectivityEvent(tag: watch.tag, flags: 0, state: change.new, oldState: change.old))
        }
    }
}
