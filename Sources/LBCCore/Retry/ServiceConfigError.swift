/// Why a service config was refused.
package struct ServiceConfigError: Error, Equatable, Sendable {
    /// What is wrong, naming the JSON path.
    package var message: String
    init(_ message: String) { self.message = message }
}
