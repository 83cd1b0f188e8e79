import Foundation
import Observability
import Stream
import Synchronization
import Testing

@testable import Service

/// A `serve` run inside a longer process (as `bench serve` runs it) lets go of its Kafka
/// clients when it stops: none of them goes on reconnecting to brokers that went away.
@Suite struct ServeRunCleanupTests {
  /// `count` good event lines, a backbone pretrained on them (`folder/bb`), and the context a
  /// `ServeRun` runs in, logging to `logger`.
  static func backboneAndContext(lines count: Int, in folder: String, logger: Logger) throws
    -> (lines: [String], context: CommandContext)
  {
    let lines = HostileInputTests.goodLines(count: count).map {
      String(decoding: $0, as: UTF8.self)
    }
    _ = try TestBackbone.pretrain(
      lines: lines, settings: HostileInputTests.settings + ["backbone.until="], in: folder)
    let context = CommandContext(
      arguments: try ParsedArguments.parse([], options: []),
      configuration: try HostileInputTests.configuration(), logger: logger,
      metrics: MetricsRegistry(), shutdown: ShutdownSignal(), output: { _ in })
    return (lines, context)
  }

  @Test func aStoppedServeRunLeavesNoKafkaClientReconnecting() async throws {
    let folder = try TemporaryFolder.make("iak-serve-cleanup")
    defer { try? FileManager.default.removeItem(atPath: folder) }
    let logged = Mutex<[String]>([])
    let (lines, context) = try Self.backboneAndContext(
      lines: 100, in: folder,
      logger: Logger(
        label: "bench", level: .info, sink: { line in logged.withLock { $0.append(line) } }))
    do {
      let cluster = try MockKafkaCluster.make(brokers: 1)
      try cluster.createTopic("events", partitions: 1)
      let producer = try KafkaProducer.make(
        configuration: KafkaConfiguration(bootstrapServers: cluster.bootstrapServers))
      for line in lines {
        try producer.send(
          OutgoingRecord(topic: "events", partition: 0, value: Array(line.utf8))
        ) { _ in }
      }
      try producer.close()
      let run = try ServeRun(
        context: context, cluster: cluster, topic: "events", backbone: folder + "/bb",
        overrides: [])
      run.start()
      _ = try run.waitUntilProcessed(lines.count, timeout: .seconds(60))
      _ = try run.stop()
    }
    // The mock cluster is gone: a client still alive would log its failed reconnects.
    try await Task.sleep(for: .seconds(3))
    let reconnecting = logged.withLock { $0 }.filter { $0.contains("Connection refused") }
    #expect(reconnecting.isEmpty, "\(reconnecting.prefix(2))")
  }

  /// `bench serve`'s throughput run watches only its span: the pipeline must not keep every
  /// trained impression's event time for it (work `serve` alone does not do), while a run that
  /// measures freshness from the impressions gets them.
  @Test func onlyARunThatWatchesTrainedImpressionsMakesThePipelineKeepThem() throws {
    let folder = try TemporaryFolder.make("iak-serve-watch")
    defer { try? FileManager.default.removeItem(atPath: folder) }
    let (lines, context) = try Self.backboneAndContext(
      lines: 300, in: folder, logger: Logger(label: "bench", level: .error, sink: { _ in }))
    let cluster = try MockKafkaCluster.make(brokers: 1)
    var trained: [Bool: Int] = [:]
    for watches in [true, false] {
      // A topic per run: a run's checkpoint folder is named after its topic.
      let topic = "events-\(watches)"
      try cluster.createTopic(topic, partitions: 1)
      let producer = try KafkaProducer.make(
        configuration: KafkaConfiguration(bootstrapServers: cluster.bootstrapServers))
      for line in lines {
        try producer.send(
          OutgoingRecord(topic: topic, partition: 0, value: Array(line.utf8))
        ) { _ in }
      }
      try producer.close()
      let log = FreshnessLog(measuresProduceTime: true, watchesTrainedImpressions: watches)
      let run = try ServeRun(
        context: context, cluster: cluster, topic: topic, backbone: folder + "/bb",
        overrides: [], freshness: log)
      run.start()
      _ = try run.waitUntilProcessed(lines.count, timeout: .seconds(60))
      _ = try run.stop()
      #expect(log.span.firstArrival != nil && log.span.lastProcessed != nil)
      trained[watches] = log.recordCount(from: .impressionTrained)
    }
    #expect((trained[true] ?? 0) > 0, "\(trained)")
    #expect(trained[false] == 0, "\(trained)")
  }
}
