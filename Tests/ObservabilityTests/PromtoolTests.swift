import Foundation
import Testing

@testable import Observability

@Suite struct PromtoolTests {
  @Test func promtoolAcceptsTheExposition() throws {
    let promtool = try #require(
      ["/usr/bin/promtool", "/usr/local/bin/promtool"].first {
        FileManager.default.isExecutableFile(atPath: $0)
      }, "promtool is missing: run scripts/install-deps (Debian package prometheus)")
    let registry = MetricsRegistry()
    registry.counter(
      "iak_events_rejected_total", help: "Rejected events by reason.", labels: ["reason"]
    )
    .with("malformed_json").increment(by: 3)
    registry.gauge("iak_kernel_auc", help: "Sliding AUC.", labels: ["domain", "model"])
      .with("1998-01/east", "kernel").set(0.731)
    registry.gauge("iak_weird", help: "Label with \"quotes\" \\ and\nnewline.", labels: ["v"])
      .with("a\"b\\c\nd").set(.nan)
    registry.histogram("iak_step_seconds", help: "Step time.", buckets: [0.001, 0.01, 0.1])
      .with().observe(0.004)
    ProcessMetrics.register(in: registry)
    registry.gauge("iak_build_info", help: "Always 1.", labels: ["version"]).with("0.1.0").set(1)
    let process = Process()
    process.executableURL = URL(fileURLWithPath: promtool)
    process.arguments = ["check", "metrics"]
    let input = Pipe()
    let output = Pipe()
    process.standardInput = input
    process.standardOutput = output
    process.standardError = output
    try process.run()
    input.fileHandleForWriting.write(Data(registry.render().utf8))
    try input.fileHandleForWriting.close()
    process.waitUntilExit()
    let said = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    #expect(process.terminationStatus == 0, "promtool check metrics said: \(said)")
    #expect(said.isEmpty, "promtool lint findings: \(said)")
  }
}
