/// The `grpc-timeout` header: 1 to 8 ASCII digits followed by a unit
/// (`H` hours, `M` minutes, `S` seconds, `m` milliseconds, `u` microseconds, `n` nanoseconds).
///
/// ```swift
/// GRPCTimeout.encode(nanoseconds: 1_000_000_000)   // "1000000u"
/// GRPCTimeout.decode("250m")                        // 250_000_000
/// ```
package enum GRPCTimeout {
    /// Largest value expressible in 8 digits.
    private static let maxDigitsValue: Int64 = 99_999_999

    /// Units from finest to coarsest: (unit character, nanoseconds per unit).
    private static let units: [(UInt8, Int64)] = [
        (UInt8(ascii: "n"), 1),
        (UInt8(ascii: "u"), 1_000),
        (UInt8(ascii: "m"), 1_000_000),
        (UInt8(ascii: "S"), 1_000_000_000),
        (UInt8(ascii: "M"), 60_000_000_000),
        (UInt8(ascii: "H"), 3_600_000_000_000),
    ]

    /// Encodes a remaining time in the finest unit whose value fits in 8 digits, rounding
    /// up so the deadline is never shortened. Values <= 0 encode as "1n" (the server then
    /// expires the RPC at once).
    package static func encode(nanoseconds: Int64) -> String {
        if nanoseconds <= 0 { return "1n" }
        for (unit, size) in units {
            let (quotient, remainder) = nanoseconds.quotientAndRemainder(dividingBy: size)
            let value = remainder == 0 ? quotient : quotient + 1
            if value <= maxDigitsValue {
                return format(value, unit: unit)
            }
        }
        // Unreachable: Int64.max nanoseconds is about 2.6 million hours.
        return format(maxDigitsValue, unit: UInt8(ascii: "H"))
    }

    private static func format(_ value: Int64, unit: UInt8) -> String {
        var digitCount = 1
        var scale: Int64 = 10
        while digitCount < 19, value >= scale {
            digitCount += 1
            scale *= 10
        }
        return String(unsafeUninitializedCapacity: digitCount + 1) { out in
            var rest = value
            for index in stride(from: digitCount - 1, through: 0, by: -1) {
                out[index] = UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: rest % 10)
                rest /= 10
            }
            out[digitCount] = unit
            return digitCount + 1
        }
    }

    /// Decodes a header value to nanoseconds; nil when malformed (no digits, more than 8,
    /// a non-digit, or an unknown unit). Values beyond `Int64.max` nanoseconds saturate.
    package static func decode(_ text: String) -> Int64? {
        var text = text
        return text.withUTF8 { decode(UnsafeRawBufferPointer($0)) }
    }

    /// Decodes raw header bytes; see ``decode(_:)-(String)``.
    package static func decode(_ bytes: UnsafeRawBufferPointer) -> Int64? {
        guard bytes.count >= 2, bytes.count <= 9 else { return nil }
        var value: Int64 = 0
        for index in 0..<(bytes.count - 1) {
            let byte = bytes[index]
            guard ASCII.isDigit(byte) else { return nil }
            value = value * 10 + Int64(byte &- UInt8(ascii: "0"))
        }
        let unit = bytes[bytes.count - 1]
        guard let size = units.first(where: { $0.0 == unit })?.1 else { return nil }
        let (product, overflow) = value.multipliedReportingOverflow(by: size)
        return overflow ? Int64.max : product
    }
}
