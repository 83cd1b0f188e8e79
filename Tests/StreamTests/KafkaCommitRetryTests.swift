import Base
import Foundation
import Stream
import Testing

@Suite struct KafkaCommitRetryTests {
  private static let rebalanceInProgress = KafkaError.Code(rawValue: 27)
  private static let illegalGeneration = KafkaError.Code(rawValue: 22)

  private static func consumer(
    on cluster: MockKafkaCluster
  ) async throws -> (KafkaConsumer, TopicPartition) {
    let topic = MockClusterFixture.uniqueName("commit-retry")
    try cluster.createTopic(topic, partitions: 1)
    _ = try await MockClusterFixture.produce(5, to: topic, on: cluster)
    let partition = TopicPartition(topic: topic, partition: 0)
    let consumer = try KafkaConsumer.make(
      configuration: MockClusterFixture.consumerConfiguration(cluster),
      groupID: MockClusterFixture.uniqueName("commit-retry-group"))
    try consumer.assign([partition: 0])
    #expect(try MockClusterFixture.poll(consumer, count: 5).count == 5)
    return (consumer, partition)
  }

  /// REBALANCE_IN_PROGRESS is what a coordinator answers while a group rejoins; the commit is
  /// retried and lands.
  @Test func aCommitRefusedDuringARebalanceIsRetriedUntilItLands() async throws {
    let cluster = try MockKafkaCluster.make(brokers: 1)
    let (consumer, partition) = try await Self.consumer(on: cluster)
    cluster.pushRequestErrors(.offsetCommit, Array(repeating: Self.rebalanceInProgress, count: 3))
    try consumer.commit([partition: 5])
    #expect(try consumer.committed([partition], timeout: .seconds(5)) == [partition: 5])
    consumer.close()
  }

  /// A coordinator that keeps refusing makes `commit` give up (bounded) with a retriable error
  /// the caller can act on; the next commit works.
  @Test func aCommitRefusedForTooLongFailsRetriably() async throws {
    let cluster = try MockKafkaCluster.make(brokers: 1)
    let (consumer, partition) = try await Self.consumer(on: cluster)
    cluster.pushRequestErrors(.offsetCommit, Array(repeating: Self.rebalanceInProgress, count: 50))
    let error = #expect(throws: KafkaError.self) { try consumer.commit([partition: 4]) }
    #expect(error?.code == Self.rebalanceInProgress)
    #expect(error?.isRetriable == true)
    cluster.clearRequestErrors(.offsetCommit)
    try consumer.commit([partition: 5])
    #expect(try consumer.committed([partition], timeout: .seconds(5)) == [partition: 5])
    consumer.close()
  }

  /// A fenced commit (the generation moved on) is not retried: the partitions are someone
  /// else's. The second pushed error is still there for the next commit, which proves only one
  /// attempt was made.
  @Test func aFencedCommitIsNotRetried() async throws {
    let cluster = try MockKafkaCluster.make(brokers: 1)
    let (consumer, partition) = try await Self.consumer(on: cluster)
    cluster.pushRequestErrors(.offsetCommit, [Self.illegalGeneration, Self.illegalGeneration])
    let first = #expect(throws: KafkaError.self) { try consumer.commit([partition: 5]) }
    #expect(first?.code == Self.illegalGeneration)
    let second = #expect(throws: KafkaError.self) { try consumer.commit([partition: 5]) }
    #expect(second?.code == Self.illegalGeneration)
    try consumer.commit([partition: 5])
    #expect(try consumer.committed([partition], timeout: .seconds(5)) == [partition: 5])
    consumer.close()
  }
}
