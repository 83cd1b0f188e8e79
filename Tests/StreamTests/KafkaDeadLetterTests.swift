import Base
import Observability
import Stream
import Testing

@Suite struct KafkaDeadLetterTests {
  @Test func badRecordsGoToTheDeadLetterTopicWithTheirOrigin() async throws {
    let cluster = try MockKafkaCluster.make(brokers: 1)
    let deadLetters = MockClusterFixture.uniqueName("dead-letters")
    try cluster.createTopic(deadLetters, partitions: 1)
    let metrics = MetricsRegistry()
    let producer = try KafkaProducer.make(
      configuration: MockClusterFixture.configuration(cluster))
    let writer = DeadLetterWriter(
      producer: producer, topic: deadLetters, logger: .disabled, metrics: metrics)
    let bad = Record(
      topic: "events", partition: 3, offset: 41, key: Array("west".utf8),
      value: Array("{not json".utf8), timestampMs: 1_700_000_000_000,
      headers: [.init(name: "trace", text: "abc")])
    let delivery = try await writer.write(bad, reason: "invalid_json")
    _ = try await writer.write(
      Record(topic: "events", partition: 0, offset: 7, value: [0xff]), reason: "invalid_json")
    _ = try await writer.write(
      Record(topic: "events", partition: 0, offset: 8, value: []), reason: "missing_field")
    #expect(delivery.topicPartition == TopicPartition(topic: deadLetters, partition: 0))

    let consumer = try KafkaConsumer.make(
      configuration: MockClusterFixture.consumerConfiguration(cluster))
    try consumer.assign([TopicPartition(topic: deadLetters, partition: 0): 0])
    let records = try MockClusterFixture.poll(consumer, count: 3)
    consumer.close()
    try #require(records.count == 3)
    let first = records[0]
    #expect(first.value == bad.value)
    #expect(first.key == bad.key)
    #expect(first.timestampMs == bad.timestampMs)
    func text(_ name: String) -> String? {
      first.header(named: name).map { String(decoding: $0, as: UTF8.self) }
    }
    #expect(text("trace") == "abc")
    #expect(text("iak-source-topic") == "events")
    #expect(text("iak-source-partition") == "3")
    #expect(text("iak-source-offset") == "41")
    #expect(text("iak-reason") == "invalid_json")
    #expect(records[1].value == [0xff])

    let rendered = metrics.render()
    #expect(rendered.contains(#"iak_dead_letters_total{reason="invalid_json"} 2"#))
    #expect(rendered.contains(#"iak_dead_letters_total{reason="missing_field"} 1"#))
    try producer.close()
  }

  @Test func deadLettersThatCannotBeDeliveredAreCountedAndReported() async throws {
    let cluster = try MockKafkaCluster.make(brokers: 1)
    let metrics = MetricsRegistry()
    let producer = try KafkaProducer.make(
      configuration: MockClusterFixture.configuration(cluster)
        .setting("message.timeout.ms", "300"))
    let writer = DeadLetterWriter(producer: producer, topic: "dead", metrics: metrics)
    try cluster.setBrokerDown(1)
    await #expect(throws: KafkaError.self) {
      try await writer.write(
        Record(topic: "events", partition: 0, offset: 1, value: [1]), reason: "invalid_json")
    }
    #expect(metrics.render().contains(#"iak_dead_letters_failed_total{reason="invalid_json"} 1"#))
    try? producer.close(timeout: .milliseconds(100))
  }

  @Test func aValueTooLargeToProduceIsCutAndMarkedNeverLost() async throws {
    let cluster = try MockKafkaCluster.make(brokers: 1)
    let topic = MockClusterFixture.uniqueName("dead-letters")
    try cluster.createTopic(topic, partitions: 1)
    let metrics = MetricsRegistry()
    let producer = try KafkaProducer.make(
      configuration: MockClusterFixture.configuration(cluster))
    let huge = Record(
      topic: "events", partition: 2, offset: 9, key: Array(repeating: 0x6B, count: 20_000),
      value: Array(repeating: 0x61, count: 10 * 1_048_576))
    // Without a limit the producer refuses the record outright: this is what the limit avoids.
    let unlimited = DeadLetterWriter(
      producer: producer, topic: topic, maxValueBytes: .max, maxKeyBytes: .max)
    await #expect(throws: KafkaError.self) { try await unlimited.write(huge, reason: "oversize") }

    let writer = DeadLetterWriter(producer: producer, topic: topic, metrics: metrics)
    _ = try await writer.write(huge, reason: "oversize")
    _ = try await writer.write(
      Record(topic: "events", partition: 0, offset: 10, value: Array("{}".utf8)),
      reason: "missing_field")
    let records = try KafkaTopicReader.readAll(
      topic, configuration: MockClusterFixture.configuration(cluster), timeout: .seconds(10))
    try #require(records.count == 2)
    let cut = records[0]
    #expect(cut.value == Array(huge.value.prefix(DeadLetterWriter.defaultMaxValueBytes)))
    #expect(cut.key == Array(huge.key!.prefix(DeadLetterWriter.defaultMaxKeyBytes)))
    #expect(cut.header(named: "iak-truncated-from") == Array("10485760".utf8))
    #expect(cut.header(named: "iak-key-truncated-from") == Array("20000".utf8))
    #expect(cut.header(named: "iak-source-offset") == Array("9".utf8))
    #expect(records[1].value == Array("{}".utf8))
    #expect(records[1].header(named: "iak-truncated-from") == nil)
    let rendered = metrics.render()
    #expect(rendered.contains(#"iak_dead_letters_truncated_total{reason="oversize"} 1"#))
    #expect(rendered.contains(#"iak_dead_letters_total{reason="oversize"} 1"#))
    #expect(!rendered.contains(#"iak_dead_letters_truncated_total{reason="missing_field"}"#))
    try producer.close()
  }

  @Test func settleSendsFailedDeadLettersAgainAndRefusesUntilTheyAreDelivered() throws {
    let cluster = try MockKafkaCluster.make(brokers: 1)
    let topic = MockClusterFixture.uniqueName("dead-letters")
    try cluster.createTopic(topic, partitions: 1)
    let metrics = MetricsRegistry()
    let producer = try KafkaProducer.make(
      configuration: MockClusterFixture.configuration(cluster)
        .setting("message.timeout.ms", "400"))
    let writer = DeadLetterWriter(producer: producer, topic: topic, metrics: metrics)
    try cluster.setBrokerDown(1)
    try writer.write(
      Record(topic: "events", partition: 0, offset: 5, value: Array("not json".utf8)),
      reason: "malformed_json")
    #expect(writer.undeliveredCount == 1)
    let error = #expect(throws: KafkaError.self) { try writer.settle(timeout: .seconds(2)) }
    #expect(error?.code == .timedOut)
    #expect(error?.message.contains("1 dead letters") == true, "\(String(describing: error))")
    #expect(writer.undeliveredCount == 1)
    #expect(metrics.render().contains(#"iak_dead_letters_failed_total{reason="malformed_json"}"#))

    try cluster.setBrokerUp(1)
    try writer.settle(timeout: .seconds(20))
    #expect(writer.undeliveredCount == 0)
    let records = try KafkaTopicReader.readAll(
      topic, configuration: MockClusterFixture.configuration(cluster), timeout: .seconds(10))
    #expect(records.map(\.value) == [Array("not json".utf8)])
    #expect(records.first?.header(named: "iak-source-offset") == Array("5".utf8))
    #expect(metrics.render().contains(#"iak_dead_letters_total{reason="malformed_json"} 1"#))
    try producer.close()
  }
}
