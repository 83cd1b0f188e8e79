import Stream
import Testing

/// librdkafka 2.0.2's mock cluster has no controller, so CreateTopics cannot succeed against it;
/// these tests cover the local checks and the reported failure. Creating topics on a real
/// cluster is exercised by the service against one.
@Suite struct KafkaAdminTests {
  @Test func invalidTopicRequestsAreRefusedLocallyWithTheTopicName() throws {
    let cluster = try MockKafkaCluster.make(brokers: 1)
    let admin = try KafkaAdmin.make(configuration: MockClusterFixture.configuration(cluster))
    let error = #expect(throws: KafkaError.self) {
      try admin.createTopics([.init(name: "models", partitions: 0)], timeout: .seconds(1))
    }
    #expect(error?.code == .invalidArgument)
    #expect(error?.message.contains("models") == true)
    try admin.createTopics([], timeout: .seconds(1))  // nothing to do
  }

  @Test func aClusterThatCannotCreateTopicsIsAnErrorNotAHang() throws {
    let cluster = try MockKafkaCluster.make(brokers: 1)
    let admin = try KafkaAdmin.make(configuration: MockClusterFixture.configuration(cluster))
    let error = #expect(throws: KafkaError.self) {
      try admin.createTopics(
        [.compacted(name: MockClusterFixture.uniqueName("models"), partitions: 2)],
        timeout: .milliseconds(500))
    }
    #expect(error?.code == .timedOut)
    #expect(error?.message.contains("creating topics") == true)
  }
}

extension KafkaAdminTests {
  @Test func brokerDefaultCountsAreAcceptedAndBadOnesRefusedLocally() throws {
    let cluster = try MockKafkaCluster.make(brokers: 1)
    let admin = try KafkaAdmin.make(configuration: MockClusterFixture.configuration(cluster))
    let name = MockClusterFixture.uniqueName("defaults")
    let statuses = try admin.ensureTopics(
      [.compacted(name: name, partitions: -1, replicationFactor: -1)], timeout: .seconds(1))
    #expect(statuses[name]?.description.hasPrefix("not created: ") == true)
    let error = #expect(throws: KafkaError.self) {
      try admin.ensureTopics([.init(name: name, partitions: -2)], timeout: .seconds(1))
    }
    #expect(error?.code == .invalidArgument)
    #expect(error?.message.contains("-1 for the broker's default") == true)
  }

  @Test func existingTopicsAreFoundWithoutBeingCreated() throws {
    let cluster = try MockKafkaCluster.make(brokers: 1)
    let name = MockClusterFixture.uniqueName("present")
    try cluster.createTopic(name, partitions: 3)
    let admin = try KafkaAdmin.make(configuration: MockClusterFixture.configuration(cluster))
    #expect(try admin.topicNames(timeout: .seconds(5)).contains(name))
    let statuses = try admin.ensureTopics(
      [.compacted(name: name, partitions: 3)], timeout: .seconds(5))
    #expect(statuses == [name: .existed])
    #expect(TopicSpecification.compacted(name: name, partitions: 1).isCompacted)
    #expect(!TopicSpecification(name: name, partitions: 1).isCompacted)
    let both = TopicSpecification(
      name: name, partitions: 1, configuration: ["cleanup.policy": "compact,delete"])
    #expect(both.isCompacted)
  }
}
