import CNGHTTP2

/// Request header fields packed into one byte buffer, handed to nghttp2 as an
/// `nghttp2_nv` array (nghttp2 copies them during submit).
struct HeaderBlock {
    private var bytes: [UInt8] = []
    private var fields: [(nameStart: Int, nameLength: Int, valueStart: Int, valueLength: Int)] = []

    init() {
        bytes.reserveCapacity(256)
        fields.reserveCapacity(12)
    }

    mutating func add(_ name: String, _ value: String) {
        add(name, Array(value.utf8))
    }

    mutating func add(_ name: String, _ value: [UInt8]) {
        let nameStart = bytes.count
        bytes.append(contentsOf: name.utf8)
        let valueStart = bytes.count
        bytes.append(contentsOf: value)
        fields.append((nameStart, valueStart - nameStart, valueStart, value.count))
    }

    /// Call `body` with the nghttp2_nv array.
    mutating func withNV<R>(_ body: (UnsafePointer<nghttp2_nv>, Int) -> R) -> R {
        let fields = self.fields
        return bytes.withUnsafeMutableBufferPointer { buf in
            let base = buf.baseAddress!
            var nva = fields.map { f in
                nghttp2_nv(name: base + f.nameStart, value: base + f.valueStart,
                           namelen: f.nameLength, valuelen: f.valueLength,
                           flags: UInt8(NGHTTP2_NV_FLAG_NONE.rawValue))
            }
            return nva.withUnsafeMutableBufferPointer { body($0.baseAddress!, $0.count) }
        }
    }
}
