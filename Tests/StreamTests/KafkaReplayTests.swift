import Base
import Foundation
import Observability
import Stream
import Synchronization
import Testing

@Suite struct KafkaReplayTests {
  /// A snapshot's offsets are where consumption starts when partitions are assigned, for both
  /// rebalance protocols; partitions the provider does not know start at the committed offset.
  @Test(arguments: ["cooperative-sticky", "range"])
  func assignedPartitionsStartAtTheProvidedOffsets(strategy: String) async throws {
    let cluster = try MockKafkaCluster.make(brokers: 1)
    let topic = MockClusterFixture.uniqueName("seek")
    try cluster.createTopic(topic, partitions: 2)
    let producer = try KafkaProducer.make(
      configuration: MockClusterFixture.configuration(cluster))
    for index in 0..<20 {
      _ = try await producer.send(
        OutgoingRecord(
          topic: topic, partition: Int32(index % 2), value: Array("value-\(index)".utf8)))
    }
    try producer.close()

    let snapshot = [TopicPartition(topic: topic, partition: 0): Int64(7)]
    let events = Mutex<[KafkaConsumer.RebalanceEvent]>([])
    let consumer = try KafkaConsumer.make(
      configuration: MockClusterFixture.consumerConfiguration(cluster)
        .setting("partition.assignment.strategy", strategy),
      groupID: MockClusterFixture.uniqueName("seek-group"),
      onRebalance: { event, _ in events.withLock { $0.append(event) } },
      startOffset: { snapshot[$0] })
    try consumer.subscribe(topics: [topic])
    let records = try MockClusterFixture.poll(consumer, count: 13)
    consumer.close()

    let partition0 = records.filter { $0.partition == 0 }.map(\.offset)
    let partition1 = records.filter { $0.partition == 1 }.map(\.offset)
    #expect(partition0 == [7, 8, 9])
    #expect(partition1 == Array(0...9))
    let all = [
      TopicPartition(topic: topic, partition: 0), TopicPartition(topic: topic, partition: 1),
    ]
    let seen = events.withLock { $0 }
    #expect(seen.first == .assigned(all))
    #expect(seen.last == .revoked(all, isLost: false))
  }

  @Test func replayStartsAtTheFirstRecordAtOrAfterATimestamp() async throws {
    let cluster = try MockKafkaCluster.make(brokers: 1)
    let topic = MockClusterFixture.uniqueName("timestamps")
    try cluster.createTopic(topic, partitions: 1)
    let base: Int64 = 1_700_000_000_000
    _ = try await MockClusterFixture.produce(10, to: topic, on: cluster) {
      base + Int64($0) * 1000
    }
    let consumer = try KafkaConsumer.make(
      configuration: MockClusterFixture.consumerConfiguration(cluster))
    let partition = TopicPartition(topic: topic, partition: 0)

    let between = try consumer.resolve(.timestamp(base + 4500), topic: topic, timeout: .seconds(5))
    #expect(between == [partition: 5])
    let exact = try consumer.resolve(.timestamp(base + 3000), topic: topic, timeout: .seconds(5))
    #expect(exact == [partition: 3])
    let after = try consumer.resolve(.timestamp(base + 60_000), topic: topic, timeout: .seconds(5))
    #expect(after == [partition: 10])

    try consumer.assign(between)
    let records = try MockClusterFixture.poll(consumer, count: 5)
    consumer.close()
    #expect(records.map(\.offset) == [5, 6, 7, 8, 9])
    #expect(records.map(\.timestampMs) == (5..<10).map { base + Int64($0) * 1000 })
  }

  @Test func startPositionsResolveAgainstTheCluster() async throws {
    let cluster = try MockKafkaCluster.make(brokers: 1)
    let topic = MockClusterFixture.uniqueName("positions")
    try cluster.createTopic(topic, partitions: 3)
    let producer = try KafkaProducer.make(
      configuration: MockClusterFixture.configuration(cluster))
    for (partition, count) in [(0, 4), (1, 0), (2, 2)] {
      for _ in 0..<count {
        _ = try await producer.send(
          OutgoingRecord(topic: topic, partition: Int32(partition), value: [1]))
      }
    }
    try producer.close()
    let consumer = try KafkaConsumer.make(
      configuration: MockClusterFixture.consumerConfiguration(cluster))
    defer { consumer.close() }
    func partition(_ number: Int32) -> TopicPartition {
      TopicPartition(topic: topic, partition: number)
    }
    #expect(try consumer.partitionCount(of: topic, timeout: .seconds(5)) == 3)
    #expect(
      try consumer.resolve(.earliest, topic: topic, timeout: .seconds(5))
        == [partition(0): 0, partition(1): 0, partition(2): 0])
    #expect(
      try consumer.resolve(.latest, topic: topic, timeout: .seconds(5))
        == [partition(0): 4, partition(1): 0, partition(2): 2])
    #expect(
      try consumer.resolve(StartPosition(parsing: "0:3,2:1"), topic: topic, timeout: .seconds(5))
        == [partition(0): 3, partition(2): 1])
    let error = #expect(throws: KafkaError.self) {
      try consumer.resolve(.offsets([5: 0]), topic: topic, timeout: .seconds(5))
    }
    #expect(error?.message.contains("3 partitions") == true)
    #expect(try consumer.watermarks(of: partition(0), timeout: .seconds(5)) == (0, 4))
    #expect(throws: KafkaError.self) {
      try consumer.partitionCount(of: "no-such-topic-\(topic)", timeout: .seconds(2))
    }
  }

  @Test func lagIsHighWatermarkMinusPositionAndIsExported() async throws {
    let cluster = try MockKafkaCluster.make(brokers: 1)
    let topic = MockClusterFixture.uniqueName("lag")
    try cluster.createTopic(topic, partitions: 1)
    _ = try await MockClusterFixture.produce(10, to: topic, on: cluster)
    let metrics = MetricsRegistry()
    let consumer = try KafkaConsumer.make(
      configuration: MockClusterFixture.consumerConfiguration(cluster), metrics: metrics)
    let partition = TopicPartition(topic: topic, partition: 0)
    try consumer.assign([partition: 0])
    let records = try MockClusterFixture.poll(consumer, count: 4)
    try #require(records.count == 4)
    try consumer.pause([partition])
    // Paused: no more records arrive, and the position stays after the fourth record.
    #expect(try consumer.poll(maxRecords: 10, timeout: .milliseconds(300)).isEmpty)
    #expect(consumer.positions() == [partition: 4])
    #expect(consumer.updateLag() == [partition: 6])
    #expect(metrics.render().contains(#"iak_consumer_lag{topic="\#(topic)",partition="0"} 6"#))
    try consumer.resume([partition])
    #expect(try MockClusterFixture.poll(consumer, count: 6).map(\.offset) == Array(4...9))
    // The partition goes (a rebalance took it), another comes: its last lag is no longer
    // exported.
    let other = topic + "-other"
    try cluster.createTopic(other, partitions: 1)
    try consumer.assign([TopicPartition(topic: other, partition: 0): 0])
    consumer.updateLag()
    #expect(!metrics.render().contains(#"iak_consumer_lag{topic="\#(topic)",partition="0"}"#))
    consumer.close()
    #expect(throws: KafkaError.self) { try consumer.poll(maxRecords: 1, timeout: .zero) }
  }
}
