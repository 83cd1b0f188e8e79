import Foundation
import TestSupport
import Testing

#if canImport(Glibc)
  import Glibc
#endif

/// One `iak-stream serve` process of the reliability suite: its part of the shared log file and
/// its metrics endpoint (at the address it writes to its `--metrics-address-file`).
final class ServeProcess {
  let process: Process
  let logPath: String
  private let logStart: UInt64
  private var metricsBase: String?
  /// Where serve writes its metrics endpoint's address (a file of this process alone).
  private let addressFile: String

  /// Starts `iak-stream` with `arguments`, appending its output to `logPath`.
  init(arguments: [String], logPath: String) throws {
    self.logPath = logPath
    if !FileManager.default.fileExists(atPath: logPath) {
      _ = FileManager.default.createFile(atPath: logPath, contents: nil)
    }
    let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
    logStart = try handle.seekToEnd()
    process = Process()
    process.executableURL = URL(fileURLWithPath: ServeFixture.executable)
    addressFile = logPath + ".\(UUID().uuidString).metrics-address"
    process.arguments = arguments + ["--metrics-address-file", addressFile]
    process.standardError = handle
    process.standardOutput = handle
    try process.run()
    // A safety net only: no scenario keeps one process this long.
    process.killIfRunning(after: .seconds(900))
  }

  deinit {
    if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    try? FileManager.default.removeItem(atPath: addressFile)
  }

  var pid: pid_t { process.processIdentifier }
  var isRunning: Bool { process.isRunning }

  /// What this process has written to the log so far.
  var log: String {
    guard let handle = FileHandle(forReadingAtPath: logPath) else { return "" }
    defer { try? handle.close() }
    try? handle.seek(toOffset: logStart)
    return String(decoding: handle.readDataToEndOfFile(), as: UTF8.self)
  }

  /// Log lines of this process containing `text`.
  func logLines(containing text: String) -> [Substring] {
    log.split(separator: "\n").filter { $0.contains(text) }
  }

  /// SIGKILLs the process and waits for it to end.
  func killNow() {
    kill(pid, SIGKILL)
    process.waitUntilExit()
  }

  /// SIGTERMs the process and waits for it to end; returns its exit status.
  func stop() -> Int32 {
    process.terminate()
    process.waitUntilExit()
    return process.terminationStatus
  }

  /// The `/metrics` text, or nil while the endpoint is not up yet (or the process is gone).
  func metricsText() -> String? {
    guard let (status, body) = get("/metrics"), status == 200 else { return nil }
    return body
  }

  /// The status and body of `path` on the metrics endpoint, or nil while it is not up yet (or
  /// the process is gone).
  func get(_ path: String) -> (Int, String)? {
    if metricsBase == nil {
      guard let text = try? String(contentsOfFile: addressFile, encoding: .utf8),
        text.hasSuffix("\n")
      else { return nil }
      metricsBase = "http://\(text.dropLast())"
    }
    guard let base = metricsBase, process.isRunning,
      let (status, body, _) = try? HTTPGet.fetch(base + path)
    else { return nil }
    return (status, body)
  }

  /// The sum of metric `name` over its label sets whose labels contain `labels` (0 if absent).
  func metric(_ name: String, labels: String = "") -> Double {
    Self.value(of: name, labels: labels, in: metricsText() ?? "")
  }

  /// The sum of `name` over its samples in Prometheus text whose labels contain `labels`.
  static func value(of name: String, labels: String = "", in text: String) -> Double {
    text.split(separator: "\n").filter { line in
      guard line.hasPrefix(name) else { return false }
      let rest = line.dropFirst(name.count)
      guard rest.first == " " || rest.first == "{" else { return false }
      return labels.isEmpty || rest.contains(labels)
    }
    .compactMap { $0.split(separator: " ").last.flatMap { Double($0) } }.reduce(0, +)
  }

  /// Polls until `condition` holds on the metrics text or `timeout` passes; returns whether it
  /// held.
  func waitForMetrics(
    timeout: Duration, _ condition: (String) -> Bool
  ) async throws -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
      if let text = metricsText(), condition(text) { return true }
      guard process.isRunning else { return false }
      try await Task.sleep(for: .milliseconds(100))
    }
    return false
  }

  /// Waits until this process has trained at least `records` records (`timeout` at most).
  func waitForProcessed(_ records: Int, timeout: Duration) async throws -> Bool {
    try await waitForMetrics(timeout: timeout) {
      Self.value(of: "iak_events_processed_total", in: $0) >= Double(records)
    }
  }
}
