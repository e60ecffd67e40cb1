import XCTest

/// The error thrown by `body`, or a test failure (and nil) when it does not throw.
func thrownError<E: Error, T>(_ body: () throws(E) -> T, file: StaticString = #filePath, line: UInt = #line) -> E? {
    do {
        let value = try body()
        XCTFail("expected an error, got \(value)", file: file, line: line)
        return nil
    } catch {
        return error
    }
}

/// Calls `body` with the UTF-8 bytes of `text`.
func withBytes<T>(_ text: String, _ body: (UnsafeRawBufferPointer) throws -> T) rethrows -> T {
    try Array(text.utf8).withUnsafeBytes(body)
}
