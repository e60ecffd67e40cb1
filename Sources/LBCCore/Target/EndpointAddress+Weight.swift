/// Endpoint addresses with a weight, as pushed (`lbc_channel_set_endpoints`) or returned
/// by a lookup: `ADDRESS;weight=N` (weighted_round_robin uses the weights).
extension EndpointAddress {
    /// The largest weight accepted.
    package static let maxWeight = 1_000_000

    /// Parse "10.0.0.1:50051" or "10.0.0.1:50051;weight=3" (N = 1 ... 1000000); the
    /// weight is nil when none is given.
    ///
    /// ```swift
    /// try EndpointAddress.parseWeighted("10.0.0.1:50051;weight=3")  // (.ipv4(...), 3)
    /// ```
    package static func parseWeighted(_ text: String) throws(TargetParseError) -> (address: EndpointAddress, weight: Int?) {
        guard let semicolon = text.firstIndex(of: ";") else { return (try parse(text), nil) }
        let address = try parse(String(text[..<semicolon]))
        let attribute = text[text.index(after: semicolon)...]
        let subject = TargetParseError.Subject.address(text)
        guard attribute.hasPrefix("weight=") else {
            throw TargetParseError(subject: subject, "\(ASCII.quoted(attribute)) is not an attribute (only weight=N)")
        }
        let digits = attribute.dropFirst("weight=".count)
        guard !digits.isEmpty, digits.utf8.allSatisfy(ASCII.isDigit), let weight = Int(digits),
              (1...maxWeight).contains(weight) else {
            throw TargetParseError(subject: subject, "weight must be an integer from 1 to \(maxWeight), got \(ASCII.quoted(digits))")
        }
        return (address, weight)
    }
}
