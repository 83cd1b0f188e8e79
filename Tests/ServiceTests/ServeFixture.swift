import Base
import Checkpoint
import Foundation
import Stream
import Testing

@testable import Service

/// A mock Kafka cluster in this process with region-keyed events on a 3-partition topic, a
/// small pretrained backbone, and `iak-stream serve` run as a separate process against them.
final class ServeFixture {
  let folder: String
  /// The in-process mock cluster, or nil when the fixture runs an `iak-stream broker` process.
  let cluster: MockKafkaCluster?
  /// The `iak-stream broker` process, when the fixture runs one.
  private let brokerProcess: Process?
  /// Where the broker listens.
  let bootstrapServers: String
  let topic = "events"
  /// Every record produced, in order (bad ones included).
  let lines: [String]
  /// Records the decoder must reject.
  let badLines: Int
  let settings: [String]
  /// Partitions of the input topic.
  let partitions: Int32
  /// Lines produced so far.
  private(set) var producedCount = 0

  /// The `iak-stream` under test: `.build/debug/iak-stream`, or `IAK_STREAM_EXECUTABLE` (to run
  /// a test against another build, such as the one before a fix).
  static var executable: String {
    if let path = ProcessInfo.processInfo.environment["IAK_STREAM_EXECUTABLE"] { return path }
    return URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
      .deletingLastPathComponent().appendingPathComponent(".build/debug/iak-stream").path
  }

  /// The settings every serve test runs with: a small backbone, daily domains, small batches.
  static let standardSettings = [
    "--set", "backbone.fields=user,item", "--set", "backbone.buckets=512",
    "--set", "backbone.hidden=16,8", "--set", "backbone.until=",
    "--set", "domain.window=every 1d", "--set", "train.batch_max=8",
    "--set", "label.wait=1m", "--set", "metrics.listen=127.0.0.1:0",
  ]

  /// Impressions over five regions, a click 2 s after some of them, and two bad records.
  static func events(impressions: Int) -> [String] {
    var state: UInt64 = 7
    func next() -> UInt64 {
      state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
      return state >> 33
    }
    var lines: [String] = []
    for index in 0..<impressions {
      let region = "r\(next() % 5)"
      let user = next() % 40
      let item = next() % 25
      let time = 883_000_000_000 + Int64(index) * 30_000
      lines.append(
        "{\"type\":\"impression\",\"id\":\"i\(index)\",\"ts\":\(time),\"region\":\"\(region)\","
          + "\"user\":\"u\(user)\",\"item\":\"m\(item)\"}")
      if (item % 4 == 0) != (next() % 8 == 0) {
        lines.append(
          "{\"type\":\"click\",\"id\":\"i\(index)\",\"ts\":\(time + 2000),\"region\":\"\(region)\"}"
        )
      }
      if index == impressions / 3 { lines.append("{\"type\":\"impression\",\"id\":") }
      if index == impressions / 2 { lines.append("not json at all") }
    }
    return lines
  }

  /// Pretrains the backbone on every event, creates the topics (`partitions` input partitions)
  /// and produces the events, or only the first `produced` of them (`produce(upTo:)` sends more).
  /// With `brokerProcess`, the topics live in a separate `iak-stream broker` process (the same
  /// librdkafka mock cluster) instead of this one.
  init(
    impressions: Int = 3000, partitions: Int32 = 3, produced: Int? = nil,
    brokerProcess runsBroker: Bool = false
  ) async throws {
    folder = try TemporaryFolder.make("iak-serve")
    lines = Self.events(impressions: impressions)
    badLines = 2
    settings = Self.standardSettings
    let events = folder + "/events.jsonl"
    try (lines.joined(separator: "\n") + "\n").write(
      toFile: events, atomically: true, encoding: .utf8)
    try TestBackbone.pretrain(events: events, out: folder + "/bb", arguments: settings)

    self.partitions = partitions
    // Every topic serve ensures (`ServiceTopics`), state topic included: the mock broker cannot
    // create topics, so a missing one costs serve a 30 s CreateTopics timeout at start-up.
    let outputs = ["kernels", "alerts", "dead-letters", "iak-state"]
    if runsBroker {
      let process = Process()
      process.executableURL = URL(fileURLWithPath: Self.executable)
      process.arguments =
        ["broker", "--topic", "\(topic):\(partitions)"]
        + outputs.flatMap { ["--topic", "\($0):1"] }
      let out = folder + "/broker.out"
      _ = FileManager.default.createFile(atPath: out, contents: nil)
      process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: out))
      process.standardError = FileHandle.nullDevice
      try process.run()
      process.killIfRunning(after: .seconds(900))
      var servers: String?
      // Generous: a machine whose two cores are busy building can take seconds to start it.
      let deadline = Date().addingTimeInterval(30)
      while servers == nil && Date() < deadline {
        let text = (try? String(contentsOfFile: out, encoding: .utf8)) ?? ""
        servers = text.split(separator: "\n").first { $0.hasPrefix("bootstrap.servers=") }
          .map { String($0.dropFirst("bootstrap.servers=".count)) }
        if servers == nil { try await Task.sleep(for: .milliseconds(50)) }
      }
      cluster = nil
      self.brokerProcess = process
      bootstrapServers = try #require(servers, "iak-stream broker did not start")
    } else {
      let cluster = try MockKafkaCluster.make()
      try cluster.createTopic(topic, partitions: Int(partitions))
      for name in outputs { try cluster.createTopic(name, partitions: 1) }
      self.cluster = cluster
      self.brokerProcess = nil
      bootstrapServers = cluster.bootstrapServers
    }
    try produce(upTo: produced ?? lines.count)
  }

  /// Produces the events up to line `end` (exclusive) that were not produced yet, and waits
  /// for their delivery.
  func produce(upTo end: Int) throws {
    let producer = try KafkaProducer.make(
      configuration: KafkaConfiguration(bootstrapServers: bootstrapServers))
    let start = producedCount
    producedCount = max(start, min(end, lines.count))
    for line in lines[start..<producedCount] {
      // The record's timestamp is the event's time, as `produce` sets it (a bad record keeps
      // the previous one's).
      if let text = line.split(separator: "\"ts\":").dropFirst().first?.prefix(while: \.isNumber),
        let time = Int64(text)
      {
        timestamp = time
      }
      let region = line.split(separator: "\"region\":\"").dropFirst().first?
        .split(separator: "\"").first.map(String.init)
      // Keyed by region and placed by it (region `r<n>` on partition n mod the partition
      // count; the bad records on 0), so that every partition carries events.
      let placed = region.flatMap { Int32($0.dropFirst()) }.map { $0 % partitions } ?? 0
      try producer.send(
        OutgoingRecord(
          topic: topic, partition: placed, key: region.map { Array($0.utf8) },
          value: Array(line.utf8), timestampMs: timestamp)
      ) { result in
        if case .failure(let error) = result { Issue.record("not delivered: \(error)") }
      }
    }
    try producer.flush(timeout: .seconds(30))
    try producer.close()
  }

  /// The newest event time produced so far (a bad record keeps the previous one's).
  private var timestamp: Int64 = 883_000_000_000

  deinit {
    if let brokerProcess, brokerProcess.isRunning {
      brokerProcess.terminate()
      brokerProcess.waitUntilExit()
    }
    try? FileManager.default.removeItem(atPath: folder)
  }

  /// The settings a serve process of consumer group `group` storing in `store` runs with.
  func serveArguments(group: String, store: String, extra: [String] = []) -> [String] {
    [
      "serve", "--bootstrap-servers", bootstrapServers, "--backbone", folder + "/bb",
      "--set", "input.topics=\(topic)", "--set", "input.group_id=\(group)",
      "--set", "checkpoint.dir=\(folder)/\(store)", "--set", "publish.topic=kernels",
      "--set", "alert.topic=alerts", "--set", "input.dead_letter_topic=dead-letters",
      "--set", "kafka.session.timeout.ms=6000", "--set", "kafka.heartbeat.interval.ms=200",
      "--set", "kafka.fetch.wait.max.ms=50", "--set", "shutdown.timeout=20s",
      // The mock coordinator waits this long for members to rejoin a rebalance.
      "--set", "kafka.max.poll.interval.ms=10000",
    ] + settings + extra
  }

  /// Starts serve; its standard error goes to `<folder>/<store>.log`, the address of its
  /// metrics endpoint to `<folder>/<store>.metrics-address` (see `metricsAddress(of:serve:)`).
  func startServe(group: String, store: String, extra: [String] = []) throws -> Process {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: Self.executable)
    let addressFile = folder + "/\(store).metrics-address"
    try? FileManager.default.removeItem(atPath: addressFile)
    process.arguments =
      serveArguments(group: group, store: store, extra: extra)
      + ["--metrics-address-file", addressFile]
    let log = folder + "/\(store).log"
    _ = FileManager.default.createFile(atPath: log, contents: nil)
    let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
    try handle.seekToEnd()
    process.standardError = handle
    process.standardOutput = handle
    try process.run()
    return process
  }

  /// The `HOST:PORT` the metrics endpoint of serve `store` is bound to, as serve wrote it to
  /// its `--metrics-address-file`; nil when serve exited or wrote none within 30 s.
  func metricsAddress(of store: String, serve: Process) async throws -> String? {
    let deadline = ContinuousClock.now + .seconds(30)
    while ContinuousClock.now < deadline, serve.isRunning {
      if let text = try? String(
        contentsOfFile: folder + "/\(store).metrics-address", encoding: .utf8),
        text.hasSuffix("\n")
      {
        return String(text.dropLast())
      }
      try await Task.sleep(for: .milliseconds(100))
    }
    return nil
  }

  /// Runs `iak-stream` in this process with the fixture's settings; returns status and output.
  func run(_ words: [String]) -> (Int32, String) {
    let out = CommandLineToolTests.Captured()
    let status = CommandLineTool.main(
      arguments: ["iak-stream"] + words + settings, output: { out.write($0) },
      errorOutput: { out.writeError($0) })
    return (status, out.output + out.errors)
  }

  /// Runs serve until its input has been idle for 3 s; returns its exit status.
  func serveUntilIdle(group: String, store: String) throws -> Int32 {
    let process = try startServe(group: group, store: store, extra: ["--exit-when-idle", "3s"])
    process.killIfRunning(after: .seconds(180))
    process.waitUntilExit()
    return process.terminationStatus
  }

  func log(_ store: String) -> String {
    (try? String(contentsOfFile: folder + "/\(store).log", encoding: .utf8)) ?? ""
  }

  /// The newest valid snapshot of `store`.
  func newestSnapshot(_ store: String) throws -> Snapshot {
    try #require(snapshotIfAny(store), "no snapshot in \(store)")
  }

  /// The newest valid snapshot of `store`, or nil while there is none (for polling).
  func snapshotIfAny(_ store: String) -> Snapshot? {
    guard FileManager.default.fileExists(atPath: folder + "/" + store + "/LATEST") else {
      return nil
    }
    return try? SnapshotStore(directory: folder + "/" + store, keep: 10, createIfMissing: false)
      .loadNewestValid(expectingBackbone: nil).snapshot
  }

  /// The kernel tensors (every `<domain>/...` tensor but the evaluation's) and the counts.
  static func kernelState(_ snapshot: Snapshot) -> [String: [UInt8]] {
    snapshot.payload.tensors.filter { !$0.key.hasPrefix(".ingest/") }
      .mapValues(\.bytes)
  }

  /// The counts tensor: records, rejected, examples, positives.
  static func counts(_ snapshot: Snapshot) throws -> [Int64] {
    try #require(snapshot.payload.tensors[".pipeline/counts"]).int64s()
  }

  /// The end offset of every partition of the input topic.
  func endOffsets() throws -> [TopicPartition: Int64] {
    let consumer = try KafkaConsumer.make(
      configuration: KafkaConfiguration(bootstrapServers: bootstrapServers))
    defer { consumer.close() }
    return try consumer.resolve(.latest, topic: topic, timeout: .seconds(10))
  }

  /// The offsets group `group` committed.
  func committed(group: String) throws -> [TopicPartition: Int64] {
    let consumer = try KafkaConsumer.make(
      configuration: KafkaConfiguration(bootstrapServers: bootstrapServers),
      groupID: group)
    defer { consumer.close() }
    return try consumer.committed(
      (0..<partitions).map { TopicPartition(topic: topic, partition: $0) }, timeout: .seconds(10))
  }

  /// A snapshot's offsets.
  static func offsets(_ snapshot: Snapshot) -> [TopicPartition: Int64] {
    snapshot.manifest.offsets
  }
}

extension Process {
  /// Kills the process with SIGKILL if it still runs after `timeout`, so a test never hangs.
  func killIfRunning(after timeout: Duration) {
    let pid = processIdentifier
    DispatchQueue.global().asyncAfter(deadline: .now() + Double(timeout.components.seconds)) {
      [weak self] in
      guard let self, self.isRunning, self.processIdentifier == pid else { return }
      kill(pid, SIGKILL)
    }
  }
}
