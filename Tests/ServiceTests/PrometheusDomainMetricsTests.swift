import Foundation
import TestSupport
import Testing

@testable import Service

/// The per-domain quality series, build info, process metrics and histograms of a real
/// `iak-stream serve`, scraped by a real Prometheus (the Debian package) and queried from it.
@Suite struct PrometheusDomainMetricsTests {
  /// The results of an instant query: each series' labels and value.
  static func query(_ base: String, _ expression: String) throws -> [(
    labels: [String: String], value: Double
  )] {
    let encoded = try #require(
      expression.addingPercentEncoding(withAllowedCharacters: .alphanumerics))
    let (status, body, _) = try HTTPGet.fetch(base + "/api/v1/query?query=" + encoded)
    try #require(status == 200, "query \(expression): \(status) \(body)")
    let json = try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any]
    let results = (json?["data"] as? [String: Any])?["result"] as? [[String: Any]] ?? []
    return results.map { result in
      let value = (result["value"] as? [Any])?.last as? String
      return (result["metric"] as? [String: String] ?? [:], value.flatMap(Double.init) ?? .nan)
    }
  }

  @Test func perDomainSeriesBoundedByMaxDomainsAreQueriedFromARealPrometheus() async throws {
    guard FileManager.default.isExecutableFile(atPath: PrometheusIntegrationTests.prometheus)
    else {
      print("PrometheusDomainMetricsTests skipped: prometheus is absent (Debian prometheus)")
      return
    }
    let startedBefore = Date().timeIntervalSince1970
    // 3,000 impressions over 25 hours in five regions: ten daily domains, two labelled.
    let fixture = try await ServeFixture()
    let serve = try fixture.startServe(
      group: "quality", store: "quality", extra: ["--set", "metrics.max_domains=2"])
    serve.killIfRunning(after: .seconds(150))
    defer { if serve.isRunning { kill(serve.processIdentifier, SIGKILL) } }
    let metricsPort = try #require(
      try await PrometheusIntegrationTests.metricsPort(
        of: fixture, store: "quality", serve: serve),
      "no metrics address in the serve log: \(fixture.log("quality").suffix(2000))")
    let (prometheus, base) = try await PrometheusIntegrationTests.startPrometheus(
      scraping: metricsPort, folder: fixture.folder + "/prometheus")
    defer { if prometheus.isRunning { kill(prometheus.processIdentifier, SIGKILL) } }

    // Poll until Prometheus holds a scrape taken after every domain was trained and published.
    let deadline = ContinuousClock.now + .seconds(90)
    var otherDomains = 0.0
    while ContinuousClock.now < deadline, serve.isRunning {
      try await Task.sleep(for: .milliseconds(500))
      otherDomains = try Self.query(base, "iak_metrics_other_domains").first?.value ?? 0
      let served = try Self.query(base, "iak_learner_window_auc{model=\"served\"}")
      // The checkpoint's duration is observed once its publish returned, after the series.
      let snapshots =
        try Self.query(base, "iak_snapshot_duration_seconds_count").first?.value ?? 0
      if otherDomains == 8, snapshots >= 1,
        served.contains(where: { $0.labels["domain"] == "_other" })
      {
        break
      }
    }
    #expect(otherDomains == 8, "serve log: \(fixture.log("quality").suffix(3000))")

    // Every per-domain family carries the two most recent domains and _other, nothing more.
    let labelled = try Self.query(base, "count by (domain) ({__name__=~\"iak_learner_.*\"})")
      .compactMap { $0.labels["domain"] }
    #expect(labelled.count == 3 && labelled.contains("_other"), "\(labelled)")
    let named = labelled.filter { $0 != "_other" }
    for family in [
      "iak_learner_window_auc", "iak_learner_window_logloss", "iak_learner_examples_total",
      "iak_kernel_active", "iak_kernel_examples",
    ] {
      let domains = Set(try Self.query(base, family).compactMap { $0.labels["domain"] })
      #expect(domains == Set(labelled), "\(family): \(domains)")
    }
    for model in ["kernel", "backbone", "served"] {
      for metric in ["iak_learner_window_auc", "iak_learner_window_logloss"] {
        let results = try Self.query(base, "\(metric){model=\"\(model)\"}")
        #expect(results.count == 3, "\(metric) \(model): \(results)")
        for result in results {
          #expect(result.value > 0 && result.value.isFinite, "\(metric) \(result)")
          if metric.hasSuffix("auc") { #expect(result.value <= 1, "\(result)") }
        }
      }
    }
    // The sums over domain count every domain: _other holds the eight others' examples.
    let examples = try Self.query(base, "sum(iak_learner_examples_total)").first?.value ?? 0
    let other = try Self.query(base, "iak_learner_examples_total{domain=\"_other\"}")
    #expect((other.first?.value ?? 0) > 0 && (other.first?.value ?? 0) < examples)
    let versions = try Self.query(base, "iak_kernel_version")
    #expect(Set(versions.compactMap { $0.labels["domain"] }) == Set(named), "\(versions)")
    #expect(versions.allSatisfy { $0.value >= 1 }, "\(versions)")

    // Build info, the process's own figures, and the two histograms.
    let build = try Self.query(base, "iak_build_info")
    #expect(build.map(\.labels["version"]) == [CommandLineTool.version])
    #expect(build.first?.value == 1)
    let start = try Self.query(base, "process_start_time_seconds").first?.value ?? 0
    #expect(start >= startedBefore - 1 && start <= Date().timeIntervalSince1970, "\(start)")
    #expect((try Self.query(base, "process_resident_memory_bytes").first?.value ?? 0) > 1_048_576)
    #expect((try Self.query(base, "process_cpu_seconds_total").first?.value ?? 0) > 0)
    #expect((try Self.query(base, "process_open_fds").first?.value ?? 0) > 3)
    let steps =
      try Self.query(base, "iak_training_step_duration_seconds_count").first?.value ?? 0
    #expect(steps >= 3000 / 8 / 2, "training steps timed: \(steps)")
    let median = try Self.query(
      base, "histogram_quantile(0.5, iak_training_step_duration_seconds_bucket)")
    #expect(median.first.map { $0.value > 0 && $0.value < 1 } == true, "\(median)")
    #expect((try Self.query(base, "iak_snapshot_duration_seconds_count").first?.value ?? 0) >= 1)

    // promtool accepts the exposition these came from.
    let (status, metrics, _) = try HTTPGet.fetch("http://127.0.0.1:\(metricsPort)/metrics")
    #expect(status == 200)
    if FileManager.default.isExecutableFile(atPath: PrometheusIntegrationTests.promtool) {
      let (checked, output) = try PrometheusIntegrationTests.run(
        PrometheusIntegrationTests.promtool, ["check", "metrics"], input: metrics)
      #expect(checked == 0 && output.isEmpty, "promtool check metrics: \(output)")
    }

    serve.terminate()
    serve.waitUntilExit()
    #expect(serve.terminationStatus == 0, "\(fixture.log("quality").suffix(2000))")
  }

  @Test func theShippedRulesPassTheirPromtoolUnitTests() throws {
    guard FileManager.default.isExecutableFile(atPath: PrometheusIntegrationTests.promtool) else {
      print("promtool test rules skipped: promtool is absent (Debian prometheus)")
      return
    }
    let folder = URL(fileURLWithPath: PrometheusIntegrationTests.rulesFile)
      .deletingLastPathComponent().path
    let process = Process()
    process.executableURL = URL(fileURLWithPath: PrometheusIntegrationTests.promtool)
    process.arguments = ["test", "rules", "iak-stream.rules.test.yml"]
    process.currentDirectoryURL = URL(fileURLWithPath: folder)
    let output = Pipe()
    process.standardOutput = output
    process.standardError = output
    try process.run()
    let said = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    #expect(process.terminationStatus == 0, "\(said)")
    #expect(said.contains("SUCCESS"), "\(said)")
  }
}
