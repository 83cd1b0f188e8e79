import Base
import Checkpoint
import Foundation
import Stream
import Testing

@testable import Service

/// The stage of the reliability suite (issue 8): a 3-broker mock Kafka cluster in this process,
/// a small pretrained backbone, region-keyed input lines, and `iak-stream serve` run as separate
/// processes against them, so the test can kill them and break their brokers.
///
/// Partition leaders are placed by hand: the input's on brokers 1 and 2, every output topic
/// (kernels, alerts, dead letters, state) on broker 3, so errors pushed on broker 3 reach only
/// what serve produces, never the test's own producer.
final class ChaosFixture {
  let folder: String
  let cluster: MockKafkaCluster
  /// The input lines in the order they are produced (two bad ones among them).
  let lines: [String]
  /// Records the decoder must reject.
  let badLines = 2
  /// The settings every command runs with (the same as `ServeFixture`'s).
  let settings: [String]
  /// The broker leading every output topic.
  static let outputBroker: Int32 = 3
  /// The output topics serve writes to.
  static let outputTopics = ["kernels", "alerts", "dead-letters", "iak-state"]

  /// Pretrains a backbone on `impressions` impressions' lines and starts the cluster.
  init(impressions: Int) throws {
    folder = try TemporaryFolder.make("iak-chaos")
    lines = ServeFixture.events(impressions: impressions)
    settings = ServeFixture.standardSettings
    let events = folder + "/events.jsonl"
    try (lines.joined(separator: "\n") + "\n").write(
      toFile: events, atomically: true, encoding: .utf8)
    let (status, output) = Self.run(
      ["pretrain", "--input", events, "--out", folder + "/bb"], settings: settings)
    try #require(status == 0, "pretrain failed: \(output.suffix(2000))")

    cluster = try MockKafkaCluster.make(brokers: 3)
    // Serve ensures these at start-up; the mock broker cannot create topics.
    for name in Self.outputTopics {
      try cluster.createTopic(name, partitions: 1, replicationFactor: 3)
      try cluster.setLeader(topic: name, partition: 0, broker: Self.outputBroker)
    }
  }

  deinit {
    if ProcessInfo.processInfo.environment["IAK_CHAOS_KEEP"] == nil {
      try? FileManager.default.removeItem(atPath: folder)
    }
  }

  /// Creates input topic `name`: 3 partitions, 3 replicas, leaders on brokers 1, 2, 1.
  func createInputTopic(_ name: String) throws {
    try cluster.createTopic(name, partitions: 3, replicationFactor: 3)
    for partition: Int32 in 0..<3 {
      try cluster.setLeader(topic: name, partition: partition, broker: partition % 2 + 1)
    }
  }

  /// Produces every line to `topic` now and waits for the deliveries.
  func produceAll(to topic: String) throws {
    let producer = LiveProducer(
      lines: lines, topic: topic, bootstrapServers: cluster.bootstrapServers, linesPerSecond: nil)
    producer.release(upTo: lines.count)
    try producer.finish()
  }

  /// The arguments of a serve process reading `topic` in group `group`, storing in `store`.
  func serveArguments(topic: String, group: String, store: String, extra: [String]) -> [String] {
    [
      "serve", "--bootstrap-servers", cluster.bootstrapServers, "--backbone", folder + "/bb",
      "--set", "input.topics=\(topic)", "--set", "input.group_id=\(group)",
      "--set", "checkpoint.dir=\(storePath(store))", "--set", "publish.topic=kernels",
      "--set", "alert.topic=alerts", "--set", "input.dead_letter_topic=dead-letters",
      "--set", "checkpoint.state_topic=iak-state",
      "--set", "kafka.session.timeout.ms=6000", "--set", "kafka.heartbeat.interval.ms=200",
      "--set", "kafka.fetch.wait.max.ms=50", "--set", "shutdown.timeout=30s",
    ] + settings + extra
  }

  /// Starts a serve process; its output is appended to `<folder>/<store>.log`.
  func startServe(
    topic: String, group: String, store: String, extra: [String] = []
  ) throws -> ServeProcess {
    try ServeProcess(
      arguments: serveArguments(topic: topic, group: group, store: store, extra: extra),
      logPath: folder + "/\(store).log")
  }

  /// The folder of checkpoint store `store`.
  func storePath(_ store: String) -> String { folder + "/" + store }

  /// Runs `iak-stream` in this process with the fixture's settings; returns status and output.
  func run(_ words: [String]) -> (Int32, String) { Self.run(words, settings: settings) }

  private static func run(_ words: [String], settings: [String]) -> (Int32, String) {
    let out = CommandLineToolTests.Captured()
    let status = CommandLineTool.main(
      arguments: ["iak-stream"] + words + settings, output: { out.write($0) },
      errorOutput: { out.writeError($0) })
    return (status, out.output + out.errors)
  }

  /// The state of one uninterrupted run over all of `topic`: a `replay` (no consumer group, no
  /// kills, no faults) into store `store`.
  func replay(_ topic: String, store: String) throws -> Snapshot {
    let (status, output) = run([
      "replay", "--topic", topic, "--bootstrap-servers", cluster.bootstrapServers,
      "--backbone", folder + "/bb", "--checkpoint-dir", storePath(store),
      "--set", "checkpoint.interval=100000 events", "--log-level", "warning",
    ])
    try #require(status == 0, "replay failed: \(output.suffix(2000))")
    return try newestSnapshot(store)
  }

  /// The newest valid snapshot of `store`.
  func newestSnapshot(_ store: String) throws -> Snapshot {
    try SnapshotStore(directory: storePath(store), keep: 10, createIfMissing: false)
      .newestValidSnapshot(expectingBackbone: nil, logger: .disabled)
  }

  /// The newest valid snapshot of `store`, or nil while there is none.
  func newestSnapshotIfAny(_ store: String) -> Snapshot? { try? newestSnapshot(store) }

  /// The end offset of every partition of `topic`.
  func endOffsets(_ topic: String) throws -> [TopicPartition: Int64] {
    let consumer = try KafkaConsumer.make(
      configuration: KafkaConfiguration(bootstrapServers: cluster.bootstrapServers))
    defer { consumer.close() }
    return try consumer.resolve(.latest, topic: topic, timeout: .seconds(30))
  }

  /// The offsets group `group` committed on `topic`.
  func committed(group: String, topic: String) throws -> [TopicPartition: Int64] {
    let consumer = try KafkaConsumer.make(
      configuration: KafkaConfiguration(bootstrapServers: cluster.bootstrapServers),
      groupID: group)
    defer { consumer.close() }
    return try consumer.committed(
      (0..<3).map { TopicPartition(topic: topic, partition: $0) }, timeout: .seconds(30))
  }

  /// The newest kernel on the kernels topic of every domain, decoded.
  func publishedKernels() throws -> [String: SafeTensors] {
    var result: [String: SafeTensors] = [:]
    for (key, record) in KafkaTopicReader.latestByKey(try kernelsTopic())
    where key != Array(KernelPublisher.announcementKey.utf8) {
      result[String(decoding: key, as: UTF8.self)] = try SafeTensors.decode(record.value)
    }
    return result
  }

  /// Every record on the kernels topic.
  func kernelsTopic() throws -> [Record] {
    try KafkaTopicReader.readAll(
      "kernels", configuration: KafkaConfiguration(bootstrapServers: cluster.bootstrapServers))
  }
}
