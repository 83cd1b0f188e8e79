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
}
