import Base
import Foundation
import Testing

@testable import Stream

/// The consumer prefetches more than librdkafka's default count of 100,000 records: librdkafka
/// 2.0 stops fetching for up to a second once its local queue holds `queued.min.messages`
/// records, and a consumer faster than that count per second then waits for records (`bench
/// serve` starved for up to 200 ms at a time at 130,000 events/s).
///
/// librdkafka's fetch decisions are read from its own `debug=fetch` lines, on a real (mock)
/// cluster: no timing is asserted.
@Suite struct KafkaPrefetchTests {
  /// More records than librdkafka's default `queued.min.messages`, small enough for the mock's
  /// ~5 MB per partition.
  static let recordCount = 150_000

  /// What the fetcher did with a topic of `recordCount` records that nobody polls.
  struct Prefetch {
    /// Records librdkafka put on its local queue.
    var enqueued = 0
    /// Whether it said it stopped fetching because `queued.min.messages` was exceeded.
    var stoppedAtCount = false
    /// Whether 30 s passed before either.
    var timedOut = false
  }

  /// Assigns a consumer made with `configuration` (plus `debug=fetch`, and fetches of at most
  /// 64 KiB a partition, so that the count is crossed in small steps whatever the broker
  /// returns) to partition 0 of `topic` without polling it, and follows librdkafka's fetch lines
  /// until all `recordCount` records are prefetched or librdkafka stops at the count (or 30 s
  /// pass).
  static func prefetch(
    topic: String, configuration: KafkaConfiguration
  ) throws -> (Prefetch, KafkaConsumer) {
    let (logger, lines) = KafkaSecurityTests.capturingLogger()
    let consumer = try KafkaConsumer.make(
      configuration: configuration.setting("debug", "fetch")
        .setting("max.partition.fetch.bytes", "65536"), logger: logger)
    try consumer.assign([TopicPartition(topic: topic, partition: 0): 0])
    var result = Prefetch()
    let deadline = ContinuousClock.now + .seconds(30)
    var read = 0
    while true {
      if ContinuousClock.now >= deadline {
        result.timedOut = true
        break
      }
      let taken = lines().dropFirst(read)
      read += taken.count
      for line in taken {
        if line.contains("queued.min.messages exceeded") { result.stoppedAtCount = true }
        if let count = enqueuedCount(in: line, topic: topic) { result.enqueued += count }
      }
      if result.stoppedAtCount || result.enqueued >= recordCount { break }
      Thread.sleep(forTimeInterval: 0.01)
    }
    return (result, consumer)
  }

  /// The record count of a librdkafka line "Enqueue N message(s) (...) on TOPIC [P] fetch
  /// queue", nil for any other line.
  static func enqueuedCount(in line: String, topic: String) -> Int? {
    guard let start = line.range(of: "Enqueue "), line.contains("on \(topic) [0] fetch queue")
    else { return nil }
    return Int(line[start.upperBound...].prefix { $0.isNumber })
  }

  /// Produces `recordCount` small records to partition 0 of `topic` and waits for them all.
  static func produce(_ topic: String, on cluster: MockKafkaCluster) throws {
    let producer = try KafkaProducer.make(configuration: MockClusterFixture.configuration(cluster))
    for index in 0..<recordCount {
      try producer.send(OutgoingRecord(topic: topic, partition: 0, value: Array("\(index)".utf8)))
    }
    try producer.flush(timeout: .seconds(60))
    try producer.close()
  }

  @Test func theConsumerPrefetchesPastLibrdkafkasDefaultCount() throws {
    let cluster = try MockKafkaCluster.make()
    let topic = MockClusterFixture.uniqueName("prefetch")
    try cluster.createTopic(topic, partitions: 1)
    try Self.produce(topic, on: cluster)
    let base = KafkaConfiguration(bootstrapServers: cluster.bootstrapServers)

    let (prefetch, consumer) = try Self.prefetch(topic: topic, configuration: base)
    defer { consumer.close() }
    #expect(
      consumer.effectiveSetting("queued.min.messages")
        == String(KafkaConsumer.queuedMinMessages))
    let kept = try consumer.watermarks(
      of: TopicPartition(topic: topic, partition: 0), timeout: .seconds(10))
    #expect(kept.high - kept.low == Int64(Self.recordCount), "the mock dropped records")
    #expect(!prefetch.timedOut, "librdkafka's fetch lines did not come within 30 s")
    #expect(!prefetch.stoppedAtCount)
    #expect(prefetch.enqueued == Self.recordCount)

    // A consumer with librdkafka's default count stops short: what the default avoids.
    let (limited, limitedConsumer) = try Self.prefetch(
      topic: topic, configuration: base.setting("queued.min.messages", "100000"))
    defer { limitedConsumer.close() }
    #expect(limitedConsumer.effectiveSetting("queued.min.messages") == "100000")
    #expect(!limited.timedOut, "librdkafka's fetch lines did not come within 30 s")
    #expect(limited.stoppedAtCount)
    #expect(limited.enqueued >= 100_000 && limited.enqueued < Self.recordCount)
  }
}
