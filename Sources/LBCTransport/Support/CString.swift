import Glibc

/// An immutable NUL-terminated C string owned by a Swift object, so C callers can
/// borrow it for as long as something retains the object.
package final class CString: @unchecked Sendable {
    package let pointer: UnsafePointer<CChar>
    package let string: String

    package init(_ string: String) {
        self.string = string
        pointer = UnsafePointer(strdup(string)!)
    }

    /// "".
    package static let empty = CString("")

    deinit { free(UnsafeMutablePointer(mutating: pointer)) }
}
