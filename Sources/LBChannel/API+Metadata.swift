import LBCCore

@_cdecl("lbc_metadata_new")
public func lbc_metadata_new(_ out: UnsafeMutablePointer<UnsafeMutableRawPointer?>?) -> Int32 {
    guard let out else { return fail(.invalidArgument, "lbc_metadata_new: out is NULL") }
    out.pointee = Handle.make(MetadataBox())
    return 0
}

@_cdecl("lbc_metadata_free")
public func lbc_metadata_free(_ md: UnsafeMutableRawPointer?) {
    if let md { Handle.release(md, as: MetadataBox.self) }
}

@_cdecl("lbc_metadata_add")
public func lbc_metadata_add(_ md: UnsafeMutableRawPointer?, _ key: UnsafePointer<CChar>?,
                             _ value: UnsafeRawPointer?, _ length: Int) -> Int32 {
    guard let md else { return fail(.invalidArgument, "lbc_metadata_add: md is NULL") }
    guard let key else { return fail(.invalidArgument, "lbc_metadata_add: key is NULL") }
    guard value != nil || length == 0 else {
        return fail(.invalidArgument, "lbc_metadata_add: value is NULL but value_len is \(length)")
    }
    guard length >= 0 else { return fail(.invalidArgument, "lbc_metadata_add: value_len is too large") }
    let k = String(cString: key)
    let bytes = UnsafeRawBufferPointer(start: value, count: length)
    if let problem = MetadataValidation.problem(key: k, value: bytes) {
        return fail(.invalidMetadata, problem)
    }
    Handle.get(md, as: MetadataBox.self).append(key: k, value: Array(bytes))
    return 0
}

@_cdecl("lbc_metadata_count")
public func lbc_metadata_count(_ md: UnsafeRawPointer?) -> Int {
    guard let md else { return 0 }
    return Handle.get(md, as: MetadataBox.self).count
}

@_cdecl("lbc_metadata_get")
public func lbc_metadata_get(_ md: UnsafeRawPointer?, _ index: Int,
                             _ key: UnsafeMutablePointer<UnsafePointer<CChar>?>?,
                             _ value: UnsafeMutablePointer<UnsafePointer<UInt8>?>?,
                             _ length: UnsafeMutablePointer<Int>?) -> Int32 {
    guard let md else { return fail(.invalidArgument, "lbc_metadata_get: md is NULL") }
    guard let key, let value, let length else {
        return fail(.invalidArgument, "lbc_metadata_get: key, value and value_len must not be NULL")
    }
    let box = Handle.get(md, as: MetadataBox.self)
    guard index >= 0, index < box.count else {
        return fail(.outOfRange, "lbc_metadata_get: index \(index) out of range (count \(box.count))")
    }
    let (k, v, n) = box.entry(index)
    key.pointee = k
    value.pointee = v
    length.pointee = n
    return 0
}
