import Foundation
import Stream
import Testing

@Suite struct KafkaRebalanceTests {
  /// Two consumers share a group; the second joins mid-stream. Offsets processed by the first
  /// are committed when its partitions are revoked, so across the handover every record is
  /// seen exactly once.
  ///
  /// Cooperative only: with the eager protocol librdkafka 2.0.2's mock coordinator refuses
  /// commits while the group rejoins (REBALANCE_IN_PROGRESS, where a real broker accepts them),
  /// so the eager handover cannot be exact against the mock; the eager callback path is covered
  /// by `KafkaReplayTests`.
  @Test func handoverBetweenTwoConsumersLosesAndDuplicatesNothing() async throws {
    let strategy = "cooperative-sticky"
    let cluster = try MockKafkaCluster.make(brokers: 1)
    let topic = MockClusterFixture.uniqueName("rebalance")
    let group = MockClusterFixture.uniqueName("group")
    try cluster.createTopic(topic, partitions: 4)
    let total = 200
    _ = try await MockClusterFixture.produce(total, to: topic, on: cluster)

    let configuration = MockClusterFixture.consumerConfiguration(cluster)
      .setting("partition.assignment.strategy", strategy)
      .setting("max.poll.interval.ms", "10000")
    let first = MockClusterFixture.ConsumerLedger()
    let second = MockClusterFixture.ConsumerLedger()
    let consumerA = try KafkaConsumer.make(
      configuration: configuration, groupID: group, onRebalance: first.handler)
    try consumerA.subscribe(topics: [topic])
    let deadline = ContinuousClock.now + .seconds(30)
    // The first consumer takes everything and processes part of it, in small batches.
    while first.records.count < 60 && ContinuousClock.now < deadline {
      first.process(try consumerA.poll(maxRecords: 5, timeout: .milliseconds(100)), consumerA)
    }
    try #require(first.records.count >= 60)

    let consumerB = try KafkaConsumer.make(
      configuration: configuration, groupID: group, onRebalance: second.handler)
    try consumerB.subscribe(topics: [topic])
    func seen() -> Int {
      Set((first.records + second.records).map { "\($0.partition):\($0.offset)" }).count
    }
    while ContinuousClock.now < deadline {
      first.process(try consumerA.poll(maxRecords: 5, timeout: .milliseconds(50)), consumerA)
      second.process(try consumerB.poll(maxRecords: 5, timeout: .milliseconds(50)), consumerB)
      let isShared = !consumerA.assignment.isEmpty && !consumerB.assignment.isEmpty
      if seen() >= total && isShared { break }
    }
    let assignmentA = Set(consumerA.assignment)
    let assignmentB = Set(consumerB.assignment)
    let commitErrors = first.commitErrors + second.commitErrors
    consumerA.close()
    consumerB.close()

    #expect(!assignmentA.isEmpty && !assignmentB.isEmpty)
    #expect(assignmentA.isDisjoint(with: assignmentB))
    #expect(assignmentA.union(assignmentB).count == 4)
    #expect(
      first.events.contains { if case .revoked(_, isLost: false) = $0 { true } else { false } })
    #expect(commitErrors.isEmpty)
    let all = first.records + second.records
    let identities = all.map { "\($0.partition):\($0.offset)" }
    #expect(Set(identities).count == identities.count, "a record was delivered twice")
    #expect(
      Set(MockClusterFixture.values(all)) == Set((0..<total).map { "value-\($0)" }),
      "a record was lost")
  }
}
