/// The health checking option (`health_check_service`): its key and text setter.
extension ChannelOptions {
    /// The health checking keys of ``set(_:_:)``, in header order.
    package static let healthKeys: [String] = ["health_check_service"]

    /// Health checking is on (``healthCheckService`` is set, even to "").
    package var healthChecking: Bool { healthCheckService != nil }

    /// Sets `health_check_service`: the service name sent in every
    /// grpc.health.v1 `Health/Watch` request. Any string turns health checking on,
    /// the empty string included (the server's overall health, by convention);
    /// unset (the default) leaves it off. At most 1024 bytes of 0x20...0x7E.
    /// (C-core likewise checks whenever `healthCheckConfig.serviceName` is present.)
    package mutating func setHealthCheckService(_ value: String?) throws(OptionError) {
        if let value {
            let key = "health_check_service"
            guard value.utf8.count <= 1024 else { throw .invalid(key, "is longer than 1024 bytes") }
            for (offset, byte) in value.utf8.enumerated() where byte < 0x20 || byte > 0x7E {
                throw .invalid(key, "\(ASCII.quoted(value)) has byte \(ASCII.hexByte(byte)) at offset \(offset)"
                    + " (allowed: 0x20-0x7E)")
            }
        }
        healthCheckService = value
    }

    /// Sets one health checking option; false when `key` is not one. On error `self`
    /// is unchanged.
    mutating func setHealth(_ key: String, _ value: String) throws(OptionError) -> Bool {
        switch key {
        case "health_check_service":
            try setHealthCheckService(value)
        default:
            return false
        }
        return true
    }
}
