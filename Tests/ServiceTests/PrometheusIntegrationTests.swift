import Foundation
import Stream
import TestSupport
import Testing

@testable import Service

/// The shipped Prometheus rules against a real Prometheus (the Debian package) scraping a real
/// `iak-stream serve` on loopback.
@Suite struct PrometheusIntegrationTests {
  static let prometheus = "/usr/bin/prometheus"
  static let promtool = "/usr/bin/promtool"
  static let rulesFile = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("deploy/prometheus/iak-stream.rules.yml").path

  /// Settings that drive the `collapse` detector through its default signal, `identity`: every
  /// kernel starts with a zero decoder, so `||delta|| / ||h||` grows from 0 and stays far below
  /// 1 (the largest threshold the schema allows) over this short stream (0.0008 to 0.06 when
  /// measured). With a warm-up of 3 optimiser steps and the condition held for 3 more, a domain
  /// fires `identity`, hence `collapse`, at its second observed batch past the warm-up, and
  /// `drift.on_collapse=alert` leaves the kernel as it is, so the signal and
  /// `iak_drift_active{detector="collapse"}` stay on.
  static let collapseSettings = [
    "--set", "drift.decoder_norm_threshold=1", "--set", "drift.warmup_steps=3",
    "--set", "drift.collapse_steps=3", "--set", "drift.on_collapse=alert",
  ]

  @Test func aProvokedCollapseFiresTheShippedCollapseAlertInARealPrometheus() async throws {
    guard FileManager.default.isExecutableFile(atPath: Self.prometheus) else {
      print("PrometheusIntegrationTests skipped: \(Self.prometheus) is absent (Debian prometheus)")
      return
    }
    let fixture = try await ServeFixture()
    // No --exit-when-idle: serve keeps its metrics up until the alert fires, then gets SIGTERM.
    let serve = try fixture.startServe(group: "prom", store: "prom", extra: Self.collapseSettings)
    serve.killIfRunning(after: .seconds(120))
    defer { if serve.isRunning { kill(serve.processIdentifier, SIGKILL) } }
    let metricsPort = try #require(
      try await Self.metricsPort(of: fixture, store: "prom", serve: serve),
      "no metrics address in the serve log: \(fixture.log("prom").suffix(2000))")

    let folder = fixture.folder + "/prometheus"
    let (prometheus, base) = try await Self.startPrometheus(
      scraping: metricsPort, folder: folder)
    defer { if prometheus.isRunning { kill(prometheus.processIdentifier, SIGKILL) } }

    // The shipped collapse expression is the one Prometheus evaluates.
    let (_, rulesBody, _) = try HTTPGet.fetch(base + "/api/v1/rules?type=alert")
    let loaded = try Self.alertingRules(rulesBody)
    let shipped = try Self.shippedExpressions()
    #expect(Set(loaded.keys) == Set(shipped.keys))
    #expect(loaded["IAKKernelCollapsed"] == shipped["IAKKernelCollapsed"])

    // Poll until the collapse alert fires for a domain.
    var firing: [String: String]?
    let deadline = ContinuousClock.now + .seconds(45)
    while firing == nil, ContinuousClock.now < deadline, serve.isRunning {
      try await Task.sleep(for: .milliseconds(250))
      let (status, body, _) = try HTTPGet.fetch(base + "/api/v1/alerts")
      guard status == 200 else { continue }
      firing = try Self.alerts(body).first {
        $0.labels["alertname"] == "IAKKernelCollapsed" && $0.state == "firing"
      }?.labels
    }
    let labels = try #require(
      firing,
      "no firing IAKKernelCollapsed alert; serve log: \(fixture.log("prom").suffix(2000))")
    let domain = try #require(labels["domain"])
    #expect(Set(labels.keys) == ["alertname", "domain", "severity"])
    #expect(labels["severity"] == "warning")

    // At that moment serve reports that domain collapsed, and promtool accepts the exposition.
    let (metricsStatus, metrics, _) = try HTTPGet.fetch(
      "http://127.0.0.1:\(metricsPort)/metrics")
    #expect(metricsStatus == 200)
    let active = "iak_drift_active{domain=\"\(domain)\",detector=\"collapse\"} 1"
    #expect(metrics.split(separator: "\n").contains { $0 == active }, "\(metrics.prefix(3000))")
    if FileManager.default.isExecutableFile(atPath: Self.promtool) {
      let (status, output) = try Self.run(Self.promtool, ["check", "metrics"], input: metrics)
      #expect(status == 0, "promtool check metrics: \(output)")
    } else {
      print("promtool check metrics skipped: \(Self.promtool) is absent")
    }

    serve.terminate()  // SIGTERM
    serve.waitUntilExit()
    #expect(serve.terminationReason == .exit)
    #expect(serve.terminationStatus == 0, "\(fixture.log("prom").suffix(2000))")

    // The alerts topic says the identity signal is what collapsed that domain.
    let configuration = KafkaConfiguration(bootstrapServers: fixture.bootstrapServers)
    let records = try KafkaTopicReader.readAll("alerts", configuration: configuration)
    let documents = try records.compactMap {
      try JSONSerialization.jsonObject(with: Data($0.value)) as? [String: Any]
    }
    let collapse = documents.first {
      $0["detector"] as? String == "collapse" && $0["domain"] as? String == domain
        && $0["status"] as? String == "firing"
    }
    let document = try #require(collapse, "no collapse alert for \(domain) on the alerts topic")
    #expect(document["cause"] as? String == "identity")
    #expect(document["threshold"] as? Double == 1)
    #expect((document["value"] as? Double).map { $0 < 1 } == true)
    #expect(document["action"] as? String == "alert")
  }

  /// Starts Prometheus with a copy of the shipped rules (`writeRulesWithShortHolds`) scraping
  /// `127.0.0.1:metricsPort` every second; returns it when ready, with its base URL.
  static func startPrometheus(scraping metricsPort: String, folder: String) async throws
    -> (Process, String)
  {
    try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    try writeRulesWithShortHolds(to: folder + "/rules.yml")
    // A free port can be taken between probing and binding: try a few.
    for _ in 0..<3 {
      let port = try freeLoopbackPort()
      let config = """
        global:
          scrape_interval: 1s
          evaluation_interval: 1s
        rule_files:
          - \(folder)/rules.yml
        scrape_configs:
          - job_name: iak-stream
            static_configs:
              - targets: ["127.0.0.1:\(metricsPort)"]

        """
      try config.write(toFile: folder + "/prometheus.yml", atomically: true, encoding: .utf8)
      let process = try startPrometheus(folder: folder, port: port)
      process.killIfRunning(after: .seconds(120))
      let base = "http://127.0.0.1:\(port)"
      if try await waitUntilReady(process, base: base) { return (process, base) }
      if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    }
    throw UsageError("prometheus never got ready: \(text(folder + "/log"))")
  }

  /// The port of serve's metrics endpoint, from the `127.0.0.1:PORT` it wrote to its
  /// `--metrics-address-file`; nil when serve exited or wrote none within 30 s.
  static func metricsPort(of fixture: ServeFixture, store: String, serve: Process) async throws
    -> String?
  {
    guard let address = try await fixture.metricsAddress(of: store, serve: serve),
      address.hasPrefix("127.0.0.1:")
    else { return nil }
    return String(address.dropFirst("127.0.0.1:".count))
  }

  /// A copy of the shipped rules whose `for:` holds are 2 s, so the test need not wait a minute
  /// (the collapse rule holds for 1m); every expression, label and annotation is the shipped
  /// file's, read from it, not retyped.
  static func writeRulesWithShortHolds(to path: String) throws {
    let shipped = try String(contentsOfFile: rulesFile, encoding: .utf8)
    var holds = 0
    let lines = shipped.split(separator: "\n", omittingEmptySubsequences: false).map { line in
      let trimmed = line.drop { $0 == " " }
      guard trimmed.hasPrefix("for: ") else { return String(line) }
      holds += 1
      return String(repeating: " ", count: line.count - trimmed.count) + "for: 2s"
    }
    let alerts = lines.filter { $0.drop { $0 == " " }.hasPrefix("- alert: ") }.count
    #expect(alerts > 0 && holds == alerts, "expected one `for:` per alert in \(rulesFile)")
    try lines.joined(separator: "\n").write(toFile: path, atomically: true, encoding: .utf8)
  }

  /// Every alert of the shipped rules file with its `expr` as promtool reads it (a `>-` block
  /// folds its lines with single spaces).
  static func shippedExpressions() throws -> [String: String] {
    let lines = try String(contentsOfFile: rulesFile, encoding: .utf8).split(separator: "\n")
      .map { String($0) }
    var expressions: [String: String] = [:]
    var alert: String?
    var index = 0
    while index < lines.count {
      let line = lines[index].trimmingCharacters(in: .whitespaces)
      if line.hasPrefix("- alert: ") {
        alert = String(line.dropFirst("- alert: ".count))
      } else if line.hasPrefix("expr: "), let name = alert {
        var expression = String(line.dropFirst("expr: ".count))
        if expression == ">-" {
          var folded: [String] = []
          while index + 1 < lines.count,
            !lines[index + 1].trimmingCharacters(in: .whitespaces).hasPrefix("for: ")
          {
            index += 1
            folded.append(lines[index].trimmingCharacters(in: .whitespaces))
          }
          expression = folded.joined(separator: " ")
        }
        expressions[name] = expression
      }
      index += 1
    }
    return expressions
  }

  /// The alerting rules of a `/api/v1/rules` answer: name to query.
  static func alertingRules(_ body: String) throws -> [String: String] {
    let json = try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any]
    let groups = (json?["data"] as? [String: Any])?["groups"] as? [[String: Any]] ?? []
    var rules: [String: String] = [:]
    for group in groups {
      for rule in group["rules"] as? [[String: Any]] ?? [] {
        if let name = rule["name"] as? String, let query = rule["query"] as? String {
          rules[name] = query
        }
      }
    }
    return rules
  }

  /// The alerts of a `/api/v1/alerts` answer: their labels and state.
  static func alerts(_ body: String) throws -> [(labels: [String: String], state: String)] {
    let json = try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any]
    let alerts = (json?["data"] as? [String: Any])?["alerts"] as? [[String: Any]] ?? []
    return alerts.map {
      (labels: $0["labels"] as? [String: String] ?? [:], state: $0["state"] as? String ?? "")
    }
  }

  /// Starts Prometheus on `127.0.0.1:port` with `<folder>/prometheus.yml`, a storage directory
  /// in `folder` and its log in `<folder>/log`.
  static func startPrometheus(folder: String, port: Int) throws -> Process {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: prometheus)
    process.arguments = [
      "--config.file=\(folder)/prometheus.yml", "--storage.tsdb.path=\(folder)/data-\(port)",
      "--web.listen-address=127.0.0.1:\(port)", "--log.level=info",
    ]
    _ = FileManager.default.createFile(atPath: folder + "/log", contents: nil)
    let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: folder + "/log"))
    try handle.seekToEnd()
    process.standardOutput = handle
    process.standardError = handle
    try process.run()
    return process
  }

  /// Waits until Prometheus answers `/-/ready` with 200; false when it exited (port taken).
  static func waitUntilReady(_ process: Process, base: String) async throws -> Bool {
    let deadline = ContinuousClock.now + .seconds(20)
    while ContinuousClock.now < deadline, process.isRunning {
      let (status, _, _) = try HTTPGet.fetch(base + "/-/ready")
      if status == 200 { return true }
      try await Task.sleep(for: .milliseconds(100))
    }
    return false
  }

  /// A loopback TCP port nobody listens on right now.
  static func freeLoopbackPort() throws -> Int {
    let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    try #require(socket >= 0, "socket() failed: errno \(errno)")
    defer { close(socket) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = 0
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
        bind(socket, $0, length) == 0 && getsockname(socket, $0, &length) == 0
      }
    }
    try #require(bound, "binding 127.0.0.1:0 failed: errno \(errno)")
    return Int(UInt16(bigEndian: address.sin_port))
  }

  /// Runs `executable` with `input` on its standard input; its status and combined output.
  static func run(_ executable: String, _ arguments: [String], input: String) throws -> (
    Int32, String
  ) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    let stdin = Pipe()
    let output = Pipe()
    process.standardInput = stdin
    process.standardOutput = output
    process.standardError = output
    try process.run()
    process.killIfRunning(after: .seconds(30))
    stdin.fileHandleForWriting.write(Data(input.utf8))
    try stdin.fileHandleForWriting.close()
    let data = output.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: data, as: UTF8.self))
  }

  /// The last 2000 characters of the file at `path` (empty when it cannot be read).
  static func text(_ path: String) -> String {
    String((try? String(contentsOfFile: path, encoding: .utf8))?.suffix(2000) ?? "")
  }
}
