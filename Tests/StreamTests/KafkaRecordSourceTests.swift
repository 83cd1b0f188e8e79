import Base
import Stream
import Testing

@Suite struct KafkaRecordSourceTests {
  @Test func aReplaySourceReadsFromItsStartPositionLikeAnyRecordSource() async throws {
    let cluster = try MockKafkaCluster.make(brokers: 1)
    let topic = MockClusterFixture.uniqueName("replay-source")
    try cluster.createTopic(topic, partitions: 1)
    _ = try await MockClusterFixture.produce(6, to: topic, on: cluster)
    let source: any RecordSource = try KafkaRecordSource.replaying(
      topic, from: StartPosition(parsing: "0:2"),
      configuration: MockClusterFixture.consumerConfiguration(cluster))
    var records: [Record] = []
    let deadline = ContinuousClock.now + .seconds(10)
    while records.count < 4 && ContinuousClock.now < deadline {
      records += try source.poll(maxRecords: 10, timeout: .milliseconds(100))
    }
    #expect(records.map(\.offset) == [2, 3, 4, 5])
    #expect(source.assignment == [TopicPartition(topic: topic, partition: 0)])
    #expect(!source.isEndOfInput)
    source.close()
    #expect(throws: KafkaError.self) {
      try KafkaRecordSource.replaying(
        topic, from: .offsets([3: 0]),
        configuration: MockClusterFixture.consumerConfiguration(cluster))
    }
  }

  @Test func aGroupSourceCommitsThroughItsConsumer() async throws {
    let cluster = try MockKafkaCluster.make(brokers: 1)
    let topic = MockClusterFixture.uniqueName("group-source")
    let group = MockClusterFixture.uniqueName("group")
    try cluster.createTopic(topic, partitions: 1)
    _ = try await MockClusterFixture.produce(3, to: topic, on: cluster)
    let source = try KafkaRecordSource.subscribing(
      to: [topic], groupID: group,
      configuration: MockClusterFixture.consumerConfiguration(cluster))
    let records = try MockClusterFixture.poll(source.consumer, count: 3)
    #expect(records.count == 3)
    let partition = TopicPartition(topic: topic, partition: 0)
    try source.commit([partition: 3])
    #expect(try source.consumer.committed([partition], timeout: .seconds(5)) == [partition: 3])
    source.close()
  }
}
