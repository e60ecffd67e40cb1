import LBCCore

/// One connectivity change on its way to a completion queue (an LBC_EVENT_CONNECTIVITY
/// event): the channel's state, or with ``Flags/endpoint`` one endpoint's.
package final class ConnectivityEvent: @unchecked Sendable {
    /// Bits of the event's flags (lbc_connectivity_event_flag in the C API).
    package enum Flags {
        /// An endpoint's change: ``ConnectivityEvent/address`` names it.
        package static let endpoint: UInt32 = 0x1
        /// The endpoint joined the set (in ``ConnectivityEvent/state``).
        package static let added: UInt32 = 0x2
        /// The endpoint left the set (``ConnectivityEvent/state`` is SHUTDOWN).
        package static let removed: UInt32 = 0x4
        /// The watch's last event: none with its tag follows.
        package static let last: UInt32 = 0x8
    }

    /// The watch's tag.
    package let tag: UInt
    package let flags: UInt32
    package let state: ChannelConnectivity.State
    package let oldState: ChannelConnectivity.State
    /// The endpoint's address text, for endpoint events.
    package let address: String?

    package init(tag: UInt, flags: UInt32, state: ChannelConnectivity.State, oldState: ChannelConnectivity.State,
                 address: String? = nil) {
        self.tag = tag
        self.flags = flags
        self.state = state
        self.oldState = oldState
        self.address = address
    }
}
