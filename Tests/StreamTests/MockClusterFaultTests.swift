import Base
import Foundation
import Observability
import Stream
import Testing

@Suite struct MockClusterFaultTests {
  /// The only broker goes down mid-stream; records produced before and after the outage are all
  /// consumed exactly once after it comes back.
  @Test func consumptionResumesAfterTheBrokerComesBack() async throws {
    let cluster = try MockKafkaCluster.make(brokers: 1)
    let topic = MockClusterFixture.uniqueName("outage")
    try cluster.createTopic(topic, partitions: 2)
    _ = try await MockClusterFixture.produce(20, to: topic, on: cluster)
    let consumer = try KafkaConsumer.make(
      configuration: MockClusterFixture.consumerConfiguration(cluster),
      groupID: MockClusterFixture.uniqueName("outage-group"))
    // Closed on every path: a consumer dropped without close while its group join was still
    // under way once crashed the test process inside librdkafka (the sticky assignor's state).
    defer { consumer.close() }
    try consumer.subscribe(topics: [topic])
    var records = try MockClusterFixture.poll(consumer, count: 20)
    try #require(records.count == 20)

    try cluster.setBrokerDown(1)
    #expect(try consumer.poll(maxRecords: 10, timeout: .milliseconds(500)).isEmpty)
    try cluster.setBrokerUp(1)
    _ = try await MockClusterFixture.produce(20, to: topic, on: cluster, from: 20)
    records += try MockClusterFixture.poll(consumer, count: 20, timeout: .seconds(20))

    #expect(records.count == 40)
    #expect(Set(MockClusterFixture.values(records)) == Set((0..<40).map { "value-\($0)" }))
  }

  /// Produce requests fail with retriable errors a few times; the idempotent producer retries
  /// and every record is delivered once, in order.
  @Test func injectedProduceErrorsAreRetriedWithoutDuplicates() async throws {
    let cluster = try MockKafkaCluster.make(brokers: 1)
    let topic = MockClusterFixture.uniqueName("produce-errors")
    try cluster.createTopic(topic, partitions: 1)
    cluster.pushRequestErrors(
      .produce, [.notLeaderForPartition, .requestTimedOut, .notEnoughReplicas])
    let deliveries = try await MockClusterFixture.produce(10, to: topic, on: cluster)
    #expect(deliveries.map(\.offset) == Array(0..<10))

    let consumer = try KafkaConsumer.make(
      configuration: MockClusterFixture.consumerConfiguration(cluster))
    try consumer.assign([TopicPartition(topic: topic, partition: 0): 0])
    let records = try MockClusterFixture.poll(consumer, count: 11, timeout: .seconds(2))
    consumer.close()
    #expect(MockClusterFixture.values(records) == (0..<10).map { "value-\($0)" })
  }

  /// Fetch and commit requests fail transiently; the consumer keeps going, and a commit that
  /// fails is an error the caller sees (then succeeds when retried).
  @Test func injectedFetchAndCommitErrorsAreSurvivedOrReported() async throws {
    let cluster = try MockKafkaCluster.make(brokers: 1)
    let topic = MockClusterFixture.uniqueName("fetch-errors")
    try cluster.createTopic(topic, partitions: 1)
    _ = try await MockClusterFixture.produce(10, to: topic, on: cluster)
    let partition = TopicPartition(topic: topic, partition: 0)
    let consumer = try KafkaConsumer.make(
      configuration: MockClusterFixture.consumerConfiguration(cluster),
      groupID: MockClusterFixture.uniqueName("fetch-errors-group"))
    cluster.pushRequestErrors(.fetch, [.notLeaderForPartition, .unknownTopicOrPartition])
    try consumer.assign([partition: 0])
    let records = try MockClusterFixture.poll(consumer, count: 10)
    #expect(records.map(\.offset) == Array(0..<10))

    // OffsetCommit fails once with TOPIC_AUTHORIZATION_FAILED (29), which is not retriable:
    // commit throws and nothing is stored.
    cluster.pushRequestErrors(.offsetCommit, [KafkaError.Code(rawValue: 29)])
    let error = #expect(throws: KafkaError.self) { try consumer.commit([partition: 10]) }
    #expect(error?.code.rawValue == 29)
    try consumer.commit([partition: 10])
    #expect(try consumer.committed([partition], timeout: .seconds(5)) == [partition: 10])
    consumer.close()
  }

  /// Partition leadership moves to another broker and the first one goes down; the consumer
  /// follows the leader and reads everything.
  @Test func consumptionFollowsALeaderChange() async throws {
    let cluster = try MockKafkaCluster.make(brokers: 3)
    let topic = MockClusterFixture.uniqueName("leader")
    try cluster.createTopic(topic, partitions: 1, replicationFactor: 3)
    try cluster.setLeader(topic: topic, partition: 0, broker: 1)
    _ = try await MockClusterFixture.produce(5, to: topic, on: cluster)
    let consumer = try KafkaConsumer.make(
      configuration: MockClusterFixture.consumerConfiguration(cluster))
    try consumer.assign([TopicPartition(topic: topic, partition: 0): 0])
    var records = try MockClusterFixture.poll(consumer, count: 5)
    try cluster.setLeader(topic: topic, partition: 0, broker: 2)
    try cluster.setRoundTripTime(.milliseconds(20), broker: 2)
    try cluster.setBrokerDown(1)
    _ = try await MockClusterFixture.produce(5, to: topic, on: cluster, from: 5)
    records += try MockClusterFixture.poll(consumer, count: 5, timeout: .seconds(20))
    consumer.close()
    #expect(records.map(\.offset) == Array(0..<10))
    #expect(throws: KafkaError.self) { try cluster.setBrokerDown(9) }
  }

  /// Errors pushed on one broker fail only the requests that reach it, in order, and the
  /// group coordinator can move: commits follow it.
  @Test func errorsPushedOnOneBrokerFailOnlyItsRequests() async throws {
    let cluster = try MockKafkaCluster.make(brokers: 3)
    let healthy = MockClusterFixture.uniqueName("healthy")
    let failing = MockClusterFixture.uniqueName("failing")
    for (topic, leader) in [(healthy, Int32(1)), (failing, Int32(3))] {
      try cluster.createTopic(topic, partitions: 1, replicationFactor: 3)
      try cluster.setLeader(topic: topic, partition: 0, broker: leader)
    }
    // MSG_SIZE_TOO_LARGE (10) is not retried: the record on broker 3 fails with it.
    try cluster.pushRequestErrors(
      .produce, [KafkaError.Code(rawValue: 10)], broker: 3, delay: .milliseconds(200))
    #expect(throws: KafkaError.self) {
      try cluster.pushRequestErrors(.produce, [.requestTimedOut], broker: 9)
    }
    let producer = try KafkaProducer.make(configuration: MockClusterFixture.configuration(cluster))
    let delivered = try await producer.send(OutgoingRecord(topic: healthy, value: [1]))
    #expect(delivered.offset == 0)
    let error = await #expect(throws: KafkaError.self) {
      try await producer.send(OutgoingRecord(topic: failing, value: [2]))
    }
    #expect(error?.code.rawValue == 10)
    // The error was used up: the next record on broker 3 goes through.
    #expect(try await producer.send(OutgoingRecord(topic: failing, value: [3])).offset == 0)
    try producer.close()

    let group = MockClusterFixture.uniqueName("moving-group")
    let partition = TopicPartition(topic: healthy, partition: 0)
    let consumer = try KafkaConsumer.make(
      configuration: MockClusterFixture.consumerConfiguration(cluster), groupID: group)
    try consumer.assign([partition: 0])
    try consumer.commit([partition: 1])
    for broker: Int32 in [2, 3] {
      try cluster.setGroupCoordinator(group: group, broker: broker)
      try consumer.commit([partition: Int64(broker)])
      #expect(
        try consumer.committed([partition], timeout: .seconds(10)) == [partition: Int64(broker)])
    }
    consumer.close()
  }

  /// A record for a topic that does not exist cannot be delivered: the caller gets the error
  /// from `send`, and the failure is counted.
  @Test func undeliverableRecordsAreErrorsTheCallerSees() async throws {
    let cluster = try MockKafkaCluster.make(brokers: 1)
    let metrics = MetricsRegistry()
    let topic = MockClusterFixture.uniqueName("present")
    try cluster.createTopic(topic, partitions: 1)
    let producer = try KafkaProducer.make(
      configuration: MockClusterFixture.configuration(cluster)
        .setting("message.timeout.ms", "500"), metrics: metrics)
    // The mock cluster creates unknown topics on demand, so make the partition not exist.
    let error = await #expect(throws: KafkaError.self) {
      try await producer.send(OutgoingRecord(topic: topic, partition: 7, value: [1]))
    }
    #expect(error?.code == .unknownPartition || error?.code == .messageTimedOut)
    // A broker that stays down: delivery times out.
    try cluster.setBrokerDown(1)
    let timeout = await #expect(throws: KafkaError.self) {
      try await producer.send(OutgoingRecord(topic: topic, value: [2]))
    }
    #expect(timeout?.code == .messageTimedOut)
    try? producer.close(timeout: .milliseconds(100))
    #expect(metrics.render().contains(#"iak_kafka_delivery_failed_total{topic="\#(topic)"}"#))
    #expect(throws: KafkaError.self) { try producer.send(OutgoingRecord(topic: topic, value: [])) }
  }
}
