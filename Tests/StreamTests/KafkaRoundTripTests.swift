import Base
import Observability
import Stream
import Testing

@Suite struct KafkaRoundTripTests {
  @Test func keysValuesAndHeadersSurviveARoundTrip() async throws {
    let cluster = try MockKafkaCluster.make(brokers: 1)
    let topic = MockClusterFixture.uniqueName("round-trip")
    try cluster.createTopic(topic, partitions: 1)
    let producer = try KafkaProducer.make(
      configuration: MockClusterFixture.configuration(cluster))
    let binary: [UInt8] = [0, 255, 10, 13, 0x80]
    let sent = [
      OutgoingRecord(
        topic: topic, key: Array("west".utf8), value: Array(#"{"a":1}"#.utf8),
        headers: [.init(name: "kind", text: "impression"), .init(name: "raw", value: binary)],
        timestampMs: 1_700_000_000_123),
      OutgoingRecord(topic: topic, key: nil, value: binary, headers: []),
      OutgoingRecord(topic: topic, key: [], value: [], headers: [.init(name: "empty", value: [])]),
    ]
    var deliveries: [Delivery] = []
    for record in sent { deliveries.append(try await producer.send(record)) }
    try producer.close()
    #expect(deliveries.map(\.offset) == [0, 1, 2])

    let consumer = try KafkaConsumer.make(
      configuration: MockClusterFixture.consumerConfiguration(cluster))
    try consumer.assign([TopicPartition(topic: topic, partition: 0): 0])
    let received = try MockClusterFixture.poll(consumer, count: 3)
    consumer.close()

    try #require(received.count == 3)
    #expect(received.map(\.offset) == [0, 1, 2])
    #expect(received.map(\.topic) == [topic, topic, topic])
    #expect(received[0].key == Array("west".utf8))
    #expect(received[0].value == Array(#"{"a":1}"#.utf8))
    #expect(received[0].timestampMs == 1_700_000_000_123)
    #expect(received[0].headers == sent[0].headers)
    #expect(received[1].key == nil)
    #expect(received[1].value == binary)
    #expect(received[1].headers == [])
    #expect(received[2].value == [])
    #expect(received[2].header(named: "empty") == [])

    // Symbolic offsets: from the end nothing old arrives; from the beginning all three do.
    let tail = try KafkaConsumer.make(
      configuration: MockClusterFixture.consumerConfiguration(cluster))
    try tail.assign([TopicPartition(topic: topic, partition: 0): KafkaOffset.end])
    #expect(try tail.poll(maxRecords: 10, timeout: .milliseconds(300)).isEmpty)
    try tail.assign([TopicPartition(topic: topic, partition: 0): KafkaOffset.beginning])
    #expect(try MockClusterFixture.poll(tail, count: 3).map(\.offset) == [0, 1, 2])
    tail.close()
  }
}
