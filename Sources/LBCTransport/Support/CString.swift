import Glibc

/// An immutable NUL-terminated string owned by a Swift object, so C code (C callers,
/// nghttp2 header fields sent without copies) can borrow its bytes for as long as
/// something retains the object.
package final class CString: @unchecked Sendable {
    package let pointer: UnsafePointer<CChar>
    /// Length in bytes, without the NUL.
    package let count: Int
    package let string: String

    package init(_ string: String) {
        self.string = string
        pointer = UnsafePointer(strdup(string)!)
        count = string.utf8.count
    }

    /// The bytes as nghttp2 wants them (it never writes through the pointer).
    var bytes: UnsafeMutablePointer<UInt8> {
        UnsafeMutableRawPointer(mutating: pointer).assumingMemoryBound(to: UInt8.self)
    }

    /// "".
    package static let empty = CString("")

    deinit { free(UnsafeMutablePointer(mutating: pointer)) }
}
