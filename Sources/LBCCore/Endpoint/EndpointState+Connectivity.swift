extension EndpointState {
    /// The endpoint's connectivity as reported to the application (connectivity
    /// watches, ``ChannelConnectivity``): the connection state, except that a
    /// connection whose server has not yet allowed streams counts as CONNECTING (the
    /// same rule as ``name``). Admin state and ejection do not change it.
    package var reportedConnectivity: ConnectivityState {
        if connectivity.state == .ready && capacity == .none { return .connecting }
        return connectivity.state
    }
}
