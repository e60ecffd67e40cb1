import CLBCShim
import Glibc
import LBCTransport
import LBCCore

/// The C API's error codes (`lbc_error` in lbchannel.h).
enum LBCError: Int32, CaseIterable {
    case ok = 0
    case invalidArgument = -1
    case invalidTarget = -2
    case unsupported = -3
    case unknownOption = -4
    case closed = -5
    case resource = -6
    case messageTooLarge = -7
    case invalidMetadata = -8
    case outOfRange = -9
    case internalError = -10
    case resolution = -11
    case recursiveCall = -12
    case wouldBlock = -13
    case callFinished = -14
    case sendClosed = -15
    case forked = -16

    /// Static C strings for lbc_strerror (never freed).
    static let names: [Int32: UnsafePointer<CChar>] = {
        var table: [Int32: UnsafePointer<CChar>] = [:]
        for e in LBCError.allCases { table[e.rawValue] = UnsafePointer(lbcshim_strdup(e.text)!) }
        return table
    }()

    var text: String {
        switch self {
        case .ok: return "success"
        case .invalidArgument: return "invalid argument"
        case .invalidTarget: return "invalid target"
        case .unsupported: return "not supported"
        case .unknownOption: return "unknown option"
        case .closed: return "handle is closed"
        case .resource: return "out of resources"
        case .messageTooLarge: return "message too large"
        case .invalidMetadata: return "invalid metadata"
        case .outOfRange: return "index out of range"
        case .internalError: return "internal error"
        case .resolution: return "name resolution failed"
        case .recursiveCall: return "blocking call from the channel's own I/O thread"
        case .wouldBlock: return "not ready yet (would block)"
        case .callFinished: return "the call has already finished"
        case .sendClosed: return "the send side of the call is closed"
        case .forked: return "not usable in a child process after fork()"
        }
    }
}

/// Record `message` as the calling thread's last error (on `handle`, a channel, if
/// any; then also as that channel's last failure for every thread) and return `code`.
@inline(never)
func fail(_ code: LBCError, _ message: String, handle: UnsafeRawPointer? = nil) -> Int32 {
    message.withCString { lbcshim_set_errmsg_for(handle, $0) }
    if let handle { ChannelRegistry.recordFailure(handle, message) }
    return code.rawValue
}

/// An error code with its message, recorded as the thread's last error by `record()`.
struct CodedError: Error, @unchecked Sendable {
    let code: LBCError
    let message: String
    let handle: UnsafeRawPointer?

    init(_ code: LBCError, _ message: String, _ handle: UnsafeRawPointer? = nil) {
        self.code = code
        self.message = message
        self.handle = handle
    }

    func record() -> Int32 { fail(code, message, handle: handle) }
}

/// LBC_ERR_RECURSIVE_CALL for a blocking `function` called while this thread runs
/// the channel's I/O work (from its log callback), where it would wait for itself;
/// nil when the call may block.
func refuseBlockingOnLoop(_ function: String, onLoop: Bool, hint: String,
                          handle: UnsafeRawPointer? = nil) -> Int32? {
    guard onLoop else { return nil }
    return fail(.recursiveCall, "\(function): called from this channel's log callback (while it runs the "
                + "channel's I/O); a blocking call there would wait for itself\(hint)", handle: handle)
}

/// Static C strings for status names.
enum StatusNames {
    static let table: [UnsafePointer<CChar>] = StatusCode.allCases.map { UnsafePointer(lbcshim_strdup($0.name)!) }
    static let unknown: UnsafePointer<CChar> = UnsafePointer(lbcshim_strdup("UNKNOWN_CODE")!)
    static let unknownError: UnsafePointer<CChar> = UnsafePointer(lbcshim_strdup("unknown error")!)
}

@_cdecl("lbc_strerror")
public func lbc_strerror(_ code: Int32) -> UnsafePointer<CChar> {
    LBCError.names[code] ?? StatusNames.unknownError
}

@_cdecl("lbc_last_errmsg")
public func lbc_last_errmsg() -> UnsafePointer<CChar> {
    lbcshim_errmsg()
}

@_cdecl("lbc_status_name")
public func lbc_status_name(_ status: Int32) -> UnsafePointer<CChar> {
    guard status >= 0, Int(status) < StatusNames.table.count else { return StatusNames.unknown }
    return StatusNames.table[Int(status)]
}

@_cdecl("lbc_free")
public func lbc_free(_ ptr: UnsafeMutableRawPointer?) {
    free(ptr)
}

@_cdecl("lbc_version")
public func lbc_version() -> UnsafePointer<CChar> {
    Version.cString
}

@_cdecl("lbc_version_num")
public func lbc_version_num() -> Int32 {
    LBChannelVersion.number
}

enum Version {
    static let cString: UnsafePointer<CChar> = UnsafePointer(lbcshim_strdup(LBChannelVersion.string)!)
}
