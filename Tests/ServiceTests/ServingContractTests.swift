import Checkpoint
import Foundation
import Stream
import Testing

@testable import Service

/// Issue 15, the serving contract: the Python reference scorer (`python/iak_serving`, installed
/// from the repository with pip) computes from the files alone what `iak-stream score` computes,
/// on real MovieLens events, from a `kernels export` folder and from the kernels topic a real
/// `serve` published; real alerts match the `iak-alert/1` JSON Schema (docs/FORMAT.md).
@Suite struct ServingContractTests {
  static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .deletingLastPathComponent().deletingLastPathComponent().path

  /// Runs `arguments`; returns the exit status and what it printed (standard output, then
  /// standard error).
  static func run(_ arguments: [String], environment: [String: String] = [:]) throws
    -> (Int32, String, String)
  {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = arguments
    process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
    let output = Pipe()
    let errors = Pipe()
    process.standardOutput = output
    process.standardError = errors
    try process.run()
    let out = output.fileHandleForReading.readDataToEndOfFile()
    let err = errors.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (
      process.terminationStatus, String(decoding: out, as: UTF8.self),
      String(decoding: err, as: UTF8.self)
    )
  }

  /// Runs `iak-stream` in this process; fails the test on a non-zero status.
  static func cli(_ words: [String]) throws -> String {
    let captured = CommandLineToolTests.Captured()
    let status = CommandLineTool.main(
      arguments: ["iak-stream"] + words, output: { captured.write($0) },
      errorOutput: { captured.writeError($0) })
    try #require(status == 0, "iak-stream \(words.prefix(2)) failed: \(captured.errors)")
    return captured.output
  }

  /// Installs `python/` with pip as a serving team would (from a copy: a build leaves build/
  /// and *.egg-info beside the sources) and runs python/tests/serving_contract.py on `work`;
  /// returns the figures it measured.
  static func checkWithPython(_ work: String) throws -> [String: Any] {
    try FileManager.default.copyItem(atPath: repository + "/python", toPath: work + "/python")
    let (pip, _, pipErrors) = try run([
      "python3", "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
      "--target", work + "/site", work + "/python",
    ])
    try #require(pip == 0, "pip install ./python failed: \(pipErrors)")
    let (status, output, errors) = try run(
      ["python3", repository + "/python/tests/serving_contract.py", work],
      environment: ["PYTHONPATH": work + "/site"])
    #expect(status == 0, "\(output)\(errors)")
    print("serving contract (\(work)): \(output)")
    return try #require(
      try JSONSerialization.jsonObject(with: Data(output.utf8)) as? [String: Any],
      "\(output)\(errors)")
  }

  @Test func thePythonScorerMatchesScoreFromTheDocumentedFilesAlone() throws {
    let data = Self.repository + "/data/ml-100k"
    try #require(
      FileManager.default.fileExists(atPath: data + "/ml-100k.inter"),
      "MovieLens-100K is not in data/ (make data)")
    let work = try TemporaryFolder.make("iak-serving-contract")
    defer { try? FileManager.default.removeItem(atPath: work) }
    // A permissive serving guard (no-harm shown at z 0, confirmed at z 0), so that some kernels
    // serve and some do not: this test is about what serving computes from the published flags,
    // not about when a kernel should serve (on this stream the shipped guard lets none serve).
    let settings = [
      "backbone.buckets=4096", "backbone.hidden=32,16", "backbone.epochs=2",
      "backbone.refit=false", "backbone.dir=\(work)/backbone", "drift.guard_on_z=0",
      "drift.guard_confirm_z=0",
    ].flatMap { ["--set", $0] }

    // MovieLens as events; the backbone on those before 1998, the kernels on the rest.
    _ = try Self.cli(["dataset", "movielens", "--source", data, "--out", work + "/all.jsonl"])
    _ = try Self.cli(
      ["pretrain", "--input", work + "/all.jsonl", "--out", work + "/backbone"] + settings)
    let cutoffMilliseconds: Int64 = 883_612_800_000  // 1998-01-01T00:00:00Z
    let later = try String(contentsOfFile: work + "/all.jsonl", encoding: .utf8)
      .split(separator: "\n").filter { line in
        let time = line.split(separator: "\"ts\":").dropFirst().first?.prefix(while: \.isNumber)
        return time.flatMap { Int64($0) }.map { $0 >= cutoffMilliseconds } ?? false
      }
    try (later.joined(separator: "\n") + "\n").write(
      toFile: work + "/events.jsonl", atomically: true, encoding: .utf8)

    // serve publishes to a (mock) Kafka cluster, as in production.
    let cluster = try MockKafkaCluster.make()
    // The mock broker keeps about 5 MB per partition: 8 hold the 12 MB of events.
    try cluster.createTopic("events", partitions: 8)
    for topic in ["kernels", "alerts", "dead-letters", "iak-state"] {
      try cluster.createTopic(topic, partitions: 1)
    }
    _ = try Self.cli([
      "produce", "--input", work + "/events.jsonl", "--topic", "events", "--bootstrap-servers",
      cluster.bootstrapServers, "--log-level", "warning",
    ])
    let serve = Process()
    serve.executableURL = URL(fileURLWithPath: ServeFixture.executable)
    serve.arguments =
      [
        "serve", "--bootstrap-servers", cluster.bootstrapServers, "--set", "input.topics=events",
        "--set", "input.group_id=contract", "--set", "checkpoint.dir=\(work)/store",
        "--set", "publish.topic=kernels", "--set", "alert.topic=alerts",
        "--set", "input.dead_letter_topic=dead-letters", "--set", "metrics.listen=127.0.0.1:0",
        "--set", "kafka.fetch.wait.max.ms=50", "--exit-when-idle", "3s", "--log-level", "warning",
      ] + settings
    serve.standardError = FileHandle.nullDevice
    serve.standardOutput = FileHandle.nullDevice
    try serve.run()
    serve.killIfRunning(after: .seconds(300))
    serve.waitUntilExit()
    try #require(serve.terminationStatus == 0, "serve failed")

    _ = try Self.cli(
      ["kernels", "export", "--out", work + "/export", "--checkpoint-dir", work + "/store"]
        + settings)
    let scored = try Self.cli(
      [
        "score", "--backbone", work + "/backbone", "--kernels", work + "/export", "--input",
        work + "/events.jsonl", "--out", work + "/swift-scores.jsonl",
      ] + settings)
    #expect(scored.contains("scored \(later.count) impressions"), "\(scored)")

    // The topics as a consumer reads them.
    let configuration = KafkaConfiguration(bootstrapServers: cluster.bootstrapServers)
    let records = try KafkaTopicReader.readAll("kernels", configuration: configuration)
    try FileManager.default.createDirectory(
      atPath: work + "/records", withIntermediateDirectories: true)
    var listing: [[String: Any]] = []
    for (index, record) in records.enumerated() {
      var value: Any = NSNull()
      if !record.value.isEmpty {
        try Data(record.value).write(to: URL(fileURLWithPath: "\(work)/records/\(index).value"))
        value = "\(index).value"
      }
      listing.append([
        "key": String(decoding: record.key ?? [], as: UTF8.self), "value": value,
        "headers": record.headers.map { [$0.name, Data($0.value).base64EncodedString()] },
      ])
    }
    try JSONSerialization.data(withJSONObject: listing).write(
      to: URL(fileURLWithPath: work + "/records/records.json"))
    let alerts = try KafkaTopicReader.readAll("alerts", configuration: configuration)
    try (alerts.map { String(decoding: $0.value, as: UTF8.self) }.joined(separator: "\n") + "\n")
      .write(toFile: work + "/alerts.jsonl", atomically: true, encoding: .utf8)
    try FileManager.default.copyItem(
      atPath: Self.repository + "/docs/iak-alert.schema.json", toPath: work + "/schema.json")

    let report = try Self.checkWithPython(work)
    #expect(report["impressions"] as? Int == later.count)
    for source in ["export", "topic"] {
      let figures = try #require(report[source] as? [String: Any])
      for name in ["max_abs_dp_score", "max_abs_dp_backbone", "max_abs_dp_kernel"] {
        let value = try #require(figures[name] as? Double)
        #expect(value <= 1e-5, "\(source) \(name) = \(value)")
      }
      // Every domain of the stream has a kernel, and the guard lets some serve.
      #expect(figures["with_kernel"] as? Int == later.count)
      #expect((figures["served_by_kernel"] as? Int ?? 0) > 0)
    }
    let snapshot = try #require(
      try SnapshotStore(directory: work + "/store", keep: 10, createIfMissing: false)
        .loadNewestValid(expectingBackbone: nil).snapshot)
    let view = SnapshotView(snapshot)
    #expect(report["kernels"] as? Int == view.domains.count)
    // The flags the export and the topic carry are the service's serving decisions.
    let serving = view.domainStats.filter { $0.value["serving"] == 1 }.count
    #expect(report["active_kernels"] as? Int == serving)
    #expect(serving > 0 && serving < view.domains.count)
    #expect(report["topic_records"] as? Int == view.domains.count)
    #expect((report["alerts_validated"] as? Int ?? 0) > 0)
  }

  /// The parts the MovieLens stream leaves out: a numeric field (a number, a decimal string,
  /// missing and null), integer categorical values, kernels with an encoder hidden layer
  /// inserted at hidden2.
  @Test func thePythonScorerMatchesScoreWithNumericsAndAnotherKernelShape() throws {
    let work = try TemporaryFolder.make("iak-serving-contract-shapes")
    defer { try? FileManager.default.removeItem(atPath: work) }
    var state: UInt64 = 3
    func next(_ bound: UInt64) -> UInt64 {
      state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
      return (state >> 33) % bound
    }
    var lines: [String] = []
    for index in 0..<4000 {
      let price = Double(next(100_000)) / 1000
      let features: String
      switch index % 10 {
      case 0: features = "{\"cat\":\"c\(next(5))\"}"
      case 1: features = "{\"cat\":\"c\(next(5))\",\"price\":null}"
      case 2: features = "{\"cat\":\"c\(next(5))\",\"price\":\" \(price) \"}"
      default: features = "{\"cat\":\"c\(next(5))\",\"price\":\(price)}"
      }
      let clicked = (price > 50) != (next(5) == 0)
      lines.append(
        "{\"type\":\"impression\",\"id\":\"i\(index)\",\"ts\":\(883_000_000_000 + index * 600_000),"
          + "\"region\":\"\(next(2) == 0 ? "east" : "west")\",\"user\":\(next(60)),"
          + "\"item\":\"m\(next(30))\",\"features\":\(features),\"click\":\(clicked ? 1 : 0)}")
    }
    try (lines.joined(separator: "\n") + "\n").write(
      toFile: work + "/events.jsonl", atomically: true, encoding: .utf8)
    let settings = [
      "backbone.fields=user,item,cat", "event.numeric_fields=price", "backbone.buckets=512",
      "backbone.hidden=16,8", "backbone.until=", "backbone.epochs=3",
      "backbone.dir=\(work)/backbone", "iak.insert_at=hidden2", "iak.encoder_hidden=4",
      "domain.window=month", "domain.min_examples=50", "train.learning_rate=0.01",
    ].flatMap { ["--set", $0] }
    _ = try Self.cli(
      ["pretrain", "--input", work + "/events.jsonl", "--out", work + "/backbone"] + settings)
    _ = try Self.cli(
      ["replay", "--input", work + "/events.jsonl", "--checkpoint-dir", work + "/store", "--flush"]
        + settings)
    _ = try Self.cli(
      ["kernels", "export", "--out", work + "/export", "--checkpoint-dir", work + "/store"]
        + settings)
    _ = try Self.cli(
      [
        "score", "--backbone", work + "/backbone", "--kernels", work + "/export", "--input",
        work + "/events.jsonl", "--out", work + "/swift-scores.jsonl",
      ] + settings)
    let config = try String(contentsOfFile: work + "/backbone/config.json", encoding: .utf8)
    #expect(config.contains("\"price\""))
    let report = try Self.checkWithPython(work)
    #expect(report["impressions"] as? Int == lines.count)
    let figures = try #require(report["export"] as? [String: Any])
    for name in ["max_abs_dp_score", "max_abs_dp_backbone", "max_abs_dp_kernel"] {
      let value = try #require(figures[name] as? Double)
      #expect(value <= 1e-5, "\(name) = \(value)")
    }
    #expect(figures["with_kernel"] as? Int == lines.count)
  }
}
