import Foundation

/// One test of this test binary run again, alone, in a process of its own: for what only shows
/// in a fresh process (glibc's allocator state, a malloc trace). The inner test is the one
/// `--filter` picks; it learns it is the inner run from `environment`, and reports through a
/// file the outer test reads, since its output goes nowhere.
public enum InnerTest {
  /// Runs the tests named `filter` with `environment` added to this process's, waits, and
  /// returns the exit status.
  @discardableResult
  public static func run(filter: String, environment: [String: String]) throws -> Int32 {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: CommandLine.arguments[0])
    process.arguments = ["--testing-library", "swift-testing", "--filter", filter]
    process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
    process.standardOutput = FileHandle.nullDevice
    process.standardError = FileHandle.nullDevice
    try process.run()
    process.waitUntilExit()
    return process.terminationStatus
  }
}
