// swift-tools-version:6.0
//
// lbchannel: a client-side load-balanced gRPC channel exported as a C library.
// The Makefile builds the release shared library (static Swift runtime, only lbc_*
// exported); `swift test` runs the Swift unit tests.
import PackageDescription

// Release builds skip the dynamic exclusivity checks on the per-RPC hot path (they
// cost ~9 % of the instructions of a unary call); debug builds and tests keep them.
let releaseSettings: [SwiftSetting] = [
    .unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release)),
]

let package = Package(
    name: "lbchannel",
    products: [
        .library(name: "lbchannel", type: .dynamic, targets: ["LBChannel"]),
    ],
    targets: [
        // System C libraries (Debian: libnghttp2-dev, libssl-dev, libc-ares-dev).
        .systemLibrary(name: "CNGHTTP2", pkgConfig: "libnghttp2",
                       providers: [.apt(["libnghttp2-dev"])]),
        .systemLibrary(name: "COpenSSL", pkgConfig: "openssl",
                       providers: [.apt(["libssl-dev"])]),
        .systemLibrary(name: "CAres", pkgConfig: "libcares",
                       providers: [.apt(["libc-ares-dev"])]),
        // Small C helpers: thread-local error text, epoll without packed structs.
        .target(name: "CLBCShim",
                // event.c fills the public structs by the layout of include/lbchannel.h.
                cSettings: [.headerSearchPath("../../include")]),
        // I/O-free core: targets, framing, codecs, backoff, options, pickers.
        .target(name: "LBCCore", swiftSettings: releaseSettings),
        // Event loop, sockets, HTTP/2 connections, the channel.
        .target(name: "LBCTransport",
                dependencies: ["LBCCore", "CLBCShim", "CNGHTTP2", "COpenSSL", "CAres"],
                swiftSettings: releaseSettings),
        // The C API (@_cdecl functions only).
        .target(name: "LBChannel",
                dependencies: ["LBCCore", "LBCTransport", "CLBCShim"],
                exclude: ["lbchannel.map"],
                swiftSettings: releaseSettings),
        .testTarget(name: "LBCCoreTests", dependencies: ["LBCCore"]),
        .testTarget(name: "LBCTransportTests", dependencies: ["LBCTransport", "LBCCore", "CLBCShim", "CAres"]),
    ],
    swiftLanguageModes: [.v5]
)
