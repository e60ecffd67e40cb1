/// Text parsing and range checks shared by the ``ChannelOptions`` setters.
extension ChannelOptions {
    static func integer(_ key: String, _ text: String) throws(OptionError) -> Int64 {
        if let value = Int64(text) { return value }
        let digits = text.utf8.drop { $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: "+") }
        if !digits.isEmpty, digits.allSatisfy(ASCII.isDigit) {
            throw .invalid(key, "\(ASCII.quoted(text)) is out of range")
        }
        throw .invalid(key, "\(ASCII.quoted(text)) is not an integer")
    }

    /// An integer within `range`; the error names the bounds ("must be between 0 and 100, got 101").
    static func integer(_ key: String, _ text: String, in range: ClosedRange<Int64>) throws(OptionError) -> Int64 {
        let n = try integer(key, text)
        guard range.contains(n) else {
            throw .invalid(key, "must be between \(range.lowerBound) and \(range.upperBound), got \(n)")
        }
        return n
    }

    static func number(_ key: String, _ text: String) throws(OptionError) -> Double {
        guard let value = Double(text) else {
            throw .invalid(key, "\(ASCII.quoted(text)) is not a number")
        }
        guard value.isFinite else {
            throw .invalid(key, "\(ASCII.quoted(text)) is not a finite number")
        }
        return value
    }

    /// Exactly the spellings the header documents: 1, 0, true, false.
    static func boolean(_ key: String, _ text: String) throws(OptionError) -> Bool {
        switch text {
        case "1", "true": return true
        case "0", "false": return false
        default:
            throw .invalid(key, "\(ASCII.quoted(text)) is not a boolean (1, 0, true or false)")
        }
    }

    static func checkMessageSize(_ key: String, _ size: Int64) throws(OptionError) {
        guard size >= 0, size <= Int64(Int32.max) else {
            throw .invalid(key, "must be between 0 and \(Int32.max), got \(size)")
        }
    }

    /// `value >= minimum`.
    static func checkMinimum(_ key: String, _ value: Int64, _ minimum: Int64) throws(OptionError) {
        guard value >= minimum else { throw .invalid(key, "must be >= \(minimum), got \(value)") }
    }

    /// `value > 0`.
    static func checkPositive(_ key: String, _ value: Int64) throws(OptionError) {
        guard value > 0 else { throw .invalid(key, "must be > 0, got \(value)") }
    }

    /// The case of `Choice` whose raw value is exactly `text` (lowercase).
    static func choice<Choice: RawRepresentable & CaseIterable>(
        _ key: String, _ text: String, of _: Choice.Type
    ) throws(OptionError) -> Choice where Choice.RawValue == String {
        if let value = Choice(rawValue: text) { return value }
        let names = Choice.allCases.map(\.rawValue).joined(separator: ", ")
        throw .invalid(key, "\(ASCII.quoted(text)) is not one of \(names)")
    }

    /// Non-empty, every byte in `lowest`...0x7E.
    static func checkText(_ key: String, _ text: String, lowest: UInt8) throws(OptionError) {
        if text.isEmpty { throw .invalid(key, "must not be empty") }
        for (offset, byte) in text.utf8.enumerated() where byte < lowest || byte > 0x7E {
            throw .invalid(key, "\(ASCII.quoted(text)) has byte \(ASCII.hexByte(byte)) at offset \(offset)"
                + " (allowed: \(ASCII.hexByte(lowest))-0x7E)")
        }
    }
}
