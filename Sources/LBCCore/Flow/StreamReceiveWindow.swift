/// How much HTTP/2 receive window a streaming call gives back, and when (I/O-free).
///
/// Bytes held for the application — complete messages it has not taken yet — keep
/// their window; every other received byte (parts of a message still being
/// assembled, messages already taken) goes back to the peer. So a slow reader
/// stops the peer after one window, while a message larger than the window still
/// arrives. Window for taken messages is returned in batches of a quarter window,
/// so the I/O thread is not woken for every message. That never stalls a stream:
/// a taken batch that is not full is less than a quarter window, and the held
/// messages make up the rest of what the peer has in flight (nghttp2 itself
/// announces returned window once half the window has been consumed).
///
/// ```swift
/// var window = StreamReceiveWindow(windowBytes: 65536)
/// window.received(16384)                        // a DATA chunk arrived
/// let n = window.returnable(heldBytes: 16384)   // 0: all of it is a queued message
/// if window.taken(16384) { /* ask the I/O thread to call returnable again */ }
/// ```
package struct StreamReceiveWindow: Sendable, Equatable {
    /// Bytes received on the stream so far.
    package private(set) var receivedBytes = 0
    /// Bytes whose window has been given back.
    package private(set) var returnedBytes = 0
    /// Bytes the application took since the last batch was requested.
    package private(set) var takenSinceBatch = 0
    /// Size of a batch of taken bytes worth returning.
    package let batchBytes: Int

    package init(windowBytes: Int) {
        batchBytes = max(windowBytes / 4, 1)
    }

    /// `count` bytes of DATA arrived.
    package mutating func received(_ count: Int) {
        receivedBytes += count
    }

    /// The window to give back now, given the bytes of the complete messages still
    /// waiting for the application (counted as given back from now on).
    package mutating func returnable(heldBytes: Int) -> Int {
        let n = receivedBytes - returnedBytes - heldBytes
        guard n > 0 else { return 0 }
        returnedBytes += n
        return n
    }

    /// The application took a message of `wireBytes` (prefix included). True when a
    /// batch is full: the I/O thread should call `returnable` soon.
    package mutating func taken(_ wireBytes: Int) -> Bool {
        takenSinceBatch += wireBytes
        guard takenSinceBatch >= batchBytes else { return false }
        takenSinceBatch = 0
        return true
    }
}
