import Stream
import Testing

@Suite struct KafkaTopicReaderTests {
  @Test func readsEveryPartitionToItsEndAndKeepsTheLatestValuePerKey() async throws {
    let cluster = try MockKafkaCluster.make(brokers: 1)
    let topic = MockClusterFixture.uniqueName("state")
    try cluster.createTopic(topic, partitions: 2)
    let producer = try KafkaProducer.make(
      configuration: MockClusterFixture.configuration(cluster))
    let writes: [(Int32, String, String)] = [
      (0, "lunch/west", "v1"), (1, "dinner/east", "v1"), (0, "lunch/west", "v2"),
      (1, "night/north", "v1"), (1, "night/north", ""),
    ]
    for (partition, key, value) in writes {
      _ = try await producer.send(
        OutgoingRecord(
          topic: topic, partition: partition, key: Array(key.utf8), value: Array(value.utf8),
          headers: [.init(name: "iak-version", text: "7")]))
    }
    try producer.close()

    let records = try KafkaTopicReader.readAll(
      topic, configuration: MockClusterFixture.configuration(cluster), timeout: .seconds(10))
    #expect(records.map { "\($0.partition):\($0.offset)" } == ["0:0", "0:1", "1:0", "1:1", "1:2"])
    let latest = KafkaTopicReader.latestByKey(records)
    #expect(latest.count == 2)
    #expect(latest[Array("lunch/west".utf8)]?.value == Array("v2".utf8))
    #expect(latest[Array("dinner/east".utf8)]?.header(named: "iak-version") == Array("7".utf8))
    #expect(latest[Array("night/north".utf8)] == nil)

    let onlyOne = try KafkaTopicReader.readAll(
      topic, partitions: [1], configuration: MockClusterFixture.configuration(cluster))
    #expect(onlyOne.map(\.partition) == [1, 1, 1])

    let emptyTopic = MockClusterFixture.uniqueName("empty")
    try cluster.createTopic(emptyTopic, partitions: 3)
    #expect(
      try KafkaTopicReader.readAll(
        emptyTopic, configuration: MockClusterFixture.configuration(cluster)
      ).isEmpty)
  }
}
