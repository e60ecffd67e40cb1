/// An ordered list of gRPC metadata pairs. Values of "-bin" keys are raw bytes
/// (base64 is applied on the wire); other values are ASCII bytes.
package struct Metadata: Sendable, Equatable {
    /// One key/value pair.
    package struct Entry: Sendable, Equatable {
        package var key: String
        package var value: [UInt8]
        package init(key: String, value: [UInt8]) {
            self.key = key
            self.value = value
        }
    }

    package var entries: [Entry] = []

    package init() {}

    package var isEmpty: Bool { entries.isEmpty }
    package var count: Int { entries.count }

    package mutating func append(key: String, value: [UInt8]) {
        entries.append(Entry(key: key, value: value))
    }

    /// The first value for `key`, if any.
    package func first(_ key: String) -> [UInt8]? {
        entries.first(where: { $0.key == key })?.value
    }
}
