import XCTest
@testable import LBCCore

final class ChannelOptionsHealthTests: XCTestCase {
    private func setError(_ options: inout ChannelOptions, _ key: String, _ value: String) -> OptionError? {
        do {
            try options.set(key, value)
            return nil
        } catch {
            return error
        }
    }

    func testHealthCheckServiceUnsetIsOffAnyStringIsOn() throws {
        var o = ChannelOptions()
        XCTAssertNil(o.healthCheckService)
        XCTAssertFalse(o.healthChecking)
        try o.set("health_check_service", "")
        XCTAssertEqual(o.healthCheckService, "")
        XCTAssertTrue(o.healthChecking)
        try o.set("health_check_service", "pkg.Service v2")
        XCTAssertEqual(o.healthCheckService, "pkg.Service v2")
        try o.setHealthCheckService(nil)
        XCTAssertFalse(o.healthChecking)
        XCTAssertTrue(ChannelOptions.keys.contains("health_check_service"))
    }

    func testHealthCheckServiceRejectsControlBytesAndLongNames() throws {
        var o = ChannelOptions()
        try o.set("health_check_service", "kept")
        for bad in ["a\nb", "\u{7F}", "é", String(repeating: "x", count: 1025)] {
            XCTAssertEqual(setError(&o, "health_check_service", bad)?.kind, .invalidValue, bad)
            XCTAssertEqual(o.healthCheckService, "kept")
        }
        try o.set("health_check_service", String(repeating: "x", count: 1024))
    }
}
