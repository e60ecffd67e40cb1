import CLBCShim
import Glibc
import LBCCore
import LBCTransport

/// C callbacks with their user data (the caller guarantees thread-safe use).
public struct LookupCallback: @unchecked Sendable {
    public typealias Function = @convention(c) (UnsafePointer<CChar>?, UnsafeMutableRawPointer?, UnsafeMutableRawPointer?) -> Int32
    let function: Function
    let userData: UnsafeMutableRawPointer?
}

public struct LogCallback: @unchecked Sendable {
    public typealias Function = @convention(c) (Int32, UnsafePointer<CChar>?, UnsafeMutableRawPointer?) -> Void
    let function: Function
    let userData: UnsafeMutableRawPointer?
}

/// Behind `lbc_options *`.
final class OptionsBox {
    var options = ChannelOptions()
    var lookup: LookupCallback?
    var log: LogCallback?
    /// lbc_options_set_log_queue: the queue (kept alive) and tag for LBC_EVENT_LOG.
    var logQueue: (queue: CompletionQueue, tag: UInt)?
    /// lbc_options_set_lookup_queue: the queue (kept alive) and tag for LBC_EVENT_LOOKUP.
    var lookupQueue: (queue: CompletionQueue, tag: UInt)?
}

/// Behind `lbc_address_list *` (lives during one lookup callback).
final class AddressListBox {
    var addresses: [String] = []
    var error: String?
}

/// Behind `lbc_metadata *`: the pairs, plus NUL-terminated C copies for lbc_metadata_get.
final class MetadataBox {
    private(set) var metadata = Metadata()
    private var keys: [UnsafeMutablePointer<CChar>] = []
    private var values: [UnsafeMutablePointer<UInt8>] = []

    init() {}

    /// The shared, never modified, empty list of responses without metadata.
    static let empty = MetadataBox()

    init(_ metadata: Metadata) {
        for e in metadata.entries { append(key: e.key, value: e.value) }
    }

    func append(key: String, value: [UInt8]) {
        metadata.append(key: key, value: value)
        keys.append(strdup(key))
        let v = UnsafeMutablePointer<UInt8>.allocate(capacity: value.count + 1)
        v.update(from: value, count: value.count)
        v[value.count] = 0
        values.append(v)
    }

    var count: Int { keys.count }

    func entry(_ i: Int) -> (UnsafePointer<CChar>, UnsafePointer<UInt8>, Int) {
        (UnsafePointer(keys[i]), UnsafePointer(values[i]), metadata.entries[i].value.count)
    }

    deinit {
        keys.forEach { free($0) }
        values.forEach { $0.deallocate() }
    }
}

/// Behind `lbc_response *`: a finished RPC's result in C-friendly storage.
final class ResponseBox {
    let status: Int32
    let message: UnsafeMutablePointer<CChar>?   // nil: the status message is empty
    let peerName: CString?
    let data: UnsafeMutablePointer<UInt8>?
    let dataLength: Int
    let headers: MetadataBox
    let trailers: MetadataBox
    /// The endpoints of the attempts before the last (retries, hedged copies).
    let earlierPeers: [CString]

    init(_ call: UnaryCall) {
        status = call.status.rawValue
        earlierPeers = call.earlierPeers
        message = call.statusMessage.isEmpty ? nil : strdup(call.statusMessage)
        peerName = call.peerName
        if let bytes = call.response {
            let p = UnsafeMutablePointer<UInt8>.allocate(capacity: max(bytes.count, 1))
            p.update(from: bytes, count: bytes.count)
            data = p
            dataLength = bytes.count
        } else {
            data = nil
            dataLength = 0
        }
        headers = call.headers.isEmpty ? MetadataBox.empty : MetadataBox(call.headers)
        trailers = call.trailers.isEmpty ? MetadataBox.empty : MetadataBox(call.trailers)
    }

    /// The status message as a C string ("" when empty).
    var messagePointer: UnsafePointer<CChar> { message.map { UnsafePointer($0) } ?? CString.empty.pointer }
    /// The peer address as a C string ("" when no endpoint was picked).
    var peerPointer: UnsafePointer<CChar> { peerName?.pointer ?? CString.empty.pointer }

    /// Attempts made (0 when no endpoint was picked).
    var attempts: Int { earlierPeers.count + (peerName == nil ? 0 : 1) }

    /// The endpoint of attempt `index` (the last is `peerName`), nil out of range.
    func attemptPeer(_ index: Int) -> UnsafePointer<CChar>? {
        if index >= 0 && index < earlierPeers.count { return earlierPeers[index].pointer }
        if index == earlierPeers.count, let peerName { return peerName.pointer }
        return nil
    }

    deinit {
        free(message)
        data?.deallocate()
    }
}

/// Unmanaged conversions between handles and boxes.
enum Handle {
    static func make<T: AnyObject>(_ object: T) -> UnsafeMutableRawPointer {
        Unmanaged.passRetained(object).toOpaque()
    }

    static func get<T: AnyObject>(_ pointer: UnsafeRawPointer, as: T.Type) -> T {
        Unmanaged<T>.fromOpaque(pointer).takeUnretainedValue()
    }

    static func release<T: AnyObject>(_ pointer: UnsafeRawPointer, as: T.Type) {
        Unmanaged<T>.fromOpaque(pointer).release()
    }
}

/// Live channel handles. A handle is valid from open until close; lookups of
/// closed handles fail with LBC_ERR_CLOSED instead of touching freed memory, and
/// lookups in a forked child of handles opened before fork() with LBC_ERR_FORKED.
/// The lock is the C shim's, held across fork() so a child never inherits it locked.
enum ChannelRegistry {
    nonisolated(unsafe) private static var live: [UnsafeRawPointer: HandleOrigin] = [:]
    /// The message of each live channel's most recent failing call, whichever thread
    /// made it (lbc_channel_errmsg_copy: readable from any thread). Failures only.
    nonisolated(unsafe) private static var messages: [UnsafeRawPointer: String] = [:]
    /// The log feed of each live channel opened with a log queue.
    nonisolated(unsafe) private static var feeds: [UnsafeRawPointer: LogFeed] = [:]
    /// The polled lookup of each live channel opened with a lookup queue.
    nonisolated(unsafe) private static var polledLookups: [UnsafeRawPointer: PolledLookup] = [:]

    @inline(__always)
    private static func locked<T>(_ body: () -> T) -> T {
        lbcshim_registry_lock()
        defer { lbcshim_registry_unlock() }
        return body()
    }

    static func register(_ channel: Channel, feed: LogFeed? = nil,
                         polledLookup: PolledLookup? = nil) -> UnsafeMutableRawPointer {
        let handle = Handle.make(channel)
        locked {
            live[UnsafeRawPointer(handle)] = HandleOrigin()
            if let feed { feeds[UnsafeRawPointer(handle)] = feed }
            if let polledLookup { polledLookups[UnsafeRawPointer(handle)] = polledLookup }
        }
        return handle
    }

    /// The polled lookup of a live channel (nil: opened without a lookup queue), or
    /// the LBC_ERR_CLOSED / LBC_ERR_FORKED error for `function`.
    static func polledLookup(_ handle: UnsafeRawPointer, _ function: String) -> Result<PolledLookup?, CodedError> {
        let (found, origin): (PolledLookup??, HandleOrigin?) = locked {
            guard let origin = live[handle] else { return (nil, nil) }
            return (origin.isCurrent ? .some(polledLookups[handle]) : nil, origin)
        }
        if let found { return .success(found) }
        guard let origin else { return .failure(CodedError(.closed, "\(function): the channel is closed")) }
        return .failure(origin.refuse(function, "channel")!)
    }

    /// The log feed of a live channel (nil: opened without a log queue), or the
    /// LBC_ERR_CLOSED / LBC_ERR_FORKED error for `function`.
    static func logFeed(_ handle: UnsafeRawPointer, _ function: String) -> Result<LogFeed?, CodedError> {
        let (feed, origin): (LogFeed??, HandleOrigin?) = locked {
            guard let origin = live[handle] else { return (nil, nil) }
            return (origin.isCurrent ? .some(feeds[handle]) : nil, origin)
        }
        if let feed { return .success(feed) }
        guard let origin else { return .failure(CodedError(.closed, "\(function): the channel is closed")) }
        return .failure(origin.refuse(function, "channel")!)
    }

    /// The channel behind a live handle (retained by the caller for the duration of
    /// use), or the LBC_ERR_CLOSED / LBC_ERR_FORKED error for `function`.
    static func lookup(_ handle: UnsafeRawPointer, _ function: String) -> Result<Channel, CodedError> {
        let (channel, origin): (Channel?, HandleOrigin?) = locked {
            guard let origin = live[handle] else { return (nil, nil) }
            return (origin.isCurrent ? Handle.get(handle, as: Channel.self) : nil, origin)
        }
        if let channel { return .success(channel) }
        guard let origin else {
            return .failure(CodedError(.closed, "\(function): the channel is closed", handle))
        }
        return .failure(origin.refuse(function, "channel", handle: handle)!)
    }

    /// Remember `message` as the most recent failure on `handle` if it is a live
    /// channel of this process (ignored otherwise).
    static func recordFailure(_ handle: UnsafeRawPointer, _ message: String) {
        locked {
            if let origin = live[handle], origin.isCurrent { messages[handle] = message }
        }
    }

    /// The most recent failure message on a live channel ("" if none), or the
    /// LBC_ERR_CLOSED / LBC_ERR_FORKED error for `function`.
    static func lastFailure(_ handle: UnsafeRawPointer, _ function: String) -> Result<String, CodedError> {
        let (message, origin): (String?, HandleOrigin?) = locked {
            guard let origin = live[handle] else { return (nil, nil) }
            return (origin.isCurrent ? messages[handle] ?? "" : nil, origin)
        }
        if let message { return .success(message) }
        guard let origin else { return .failure(CodedError(.closed, "\(function): the channel is closed")) }
        return .failure(origin.refuse(function, "channel")!)
    }

    /// What `remove` found.
    enum Removed {
        /// The handle was live: the caller closes and releases the channel.
        case channel(Channel)
        /// Opened before fork(): forgotten, never to be touched in this process.
        case forked
        /// Not a live handle (closed already).
        case none
    }

    /// Remove the handle (exactly once).
    static func remove(_ handle: UnsafeRawPointer) -> Removed {
        locked {
            guard let origin = live.removeValue(forKey: handle) else { return .none }
            messages[handle] = nil
            feeds[handle] = nil
            // A lookup waiting for an answer that will never come returns now.
            polledLookups.removeValue(forKey: handle)?.abandon()
            return origin.isCurrent ? .channel(Handle.get(handle, as: Channel.self)) : .forked
        }
    }
}
