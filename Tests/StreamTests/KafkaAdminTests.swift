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
