/// A channel's retry configuration: the policy for every method (from the
/// `retry_*` / `hedging_*` options or a service config's name-less method config),
/// per-method policies (from a service config), and the throttle's parameters.
///
/// Method names match gRPC's service config: an entry for a service matches every
/// method of it (a prefix `/pkg.Service/`), an entry for a method only that method
/// (`/pkg.Service/Method`); the method entry wins over the service entry, which wins
/// over the channel's policy.
///
/// ```swift
/// var config = RetryConfig()
/// config.methods.append(.init(path: "/pkg.Echo/", exact: false, policy: .retry(policy)))
/// config.policy(forMethod: "/pkg.Echo/Say")     // .retry(policy)
/// config.policy(forMethod: "/other.Svc/Get")    // .none
/// ```
package struct RetryConfig: Sendable, Equatable {
    /// One service config entry.
    package struct MethodEntry: Sendable, Equatable {
        /// `/service/method` (exact) or `/service/` (every method of the service).
        package var path: String
        /// `path` names one method.
        package var exact: Bool
        /// Its policy.
        package var policy: CallRetryPolicy

        /// An entry.
        package init(path: String, exact: Bool, policy: CallRetryPolicy) {
            self.path = path
            self.exact = exact
            self.policy = policy
        }
    }

    /// The policy of methods no entry names.
    package var channelPolicy: CallRetryPolicy = .none
    /// Per-service and per-method entries.
    package var methods: [MethodEntry] = []
    /// The throttle's bucket size (0: no throttling) and ratio.
    package var throttleMaxTokens = 0
    package var throttleTokenRatio = 0.1

    /// No policy at all.
    package init() {}

    /// Some call may retry or hedge.
    package var isEnabled: Bool { channelPolicy != .none || !methods.isEmpty }

    /// The throttle the configuration asks for (nil: none).
    package var throttle: RetryThrottle? {
        throttleMaxTokens > 0 ? RetryThrottle(maxTokens: throttleMaxTokens, tokenRatio: throttleTokenRatio) : nil
    }

    /// The policy of calls to `path` (`/service/method`).
    package func policy(forMethod path: String) -> CallRetryPolicy {
        var found: MethodEntry?
        for entry in methods {
            if entry.exact ? path == entry.path : path.hasPrefix(entry.path) {
                if entry.exact { return entry.policy }
                if found == nil { found = entry }
            }
        }
        return found?.policy ?? channelPolicy
    }
}
