import LBCCore

/// Reading metadata values as text.
extension Metadata {
    /// The first value of `key` as text (nil when absent).
    func firstText(_ key: String) -> String? {
        first(key).map { String(decoding: $0, as: UTF8.self) }
    }
}
