extension EndpointState {
    /// The endpoint's connectivity as reported to the application (connectivity
    /// watches, ``ChannelConnectivity``): the connection state, except that a ready
    /// connection counts as CONNECTING while its server has not yet allowed streams
    /// (the same rule as ``name``) or health checking waits for its first answer, and
    /// as TRANSIENT_FAILURE while health checking finds it failing (gRFC A17).
    /// Admin state and ejection do not change it.
    package var reportedConnectivity: ConnectivityState {
        guard connectivity.state == .ready else { return connectivity.state }
        if capacity == .none || health == .pending { return .connecting }
        if health.isFailing { return .transientFailure }
        return .ready
    }
}
