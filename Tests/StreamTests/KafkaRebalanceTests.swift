import Base
import Foundation
import Stream
import Testing

@Suite struct KafkaRebalanceTests {
  /// What one run of the hand-over scenario saw.
  struct Handover {
    var assignmentA: Set<TopicPartition>
    var assignmentB: Set<TopicPartition>
    var revokedCleanly: Bool
    var commitErrors: [KafkaError]
    var records: [Record]
  }

  /// Two consumers share a group; the second joins mid-stream. Offsets processed by the first
  /// are committed when its partitions are revoked, so across the handover every record is
  /// seen exactly once.
  ///
  /// Cooperative only: with the eager protocol librdkafka 2.0.2's mock coordinator refuses
  /// commits while the group rejoins (REBALANCE_IN_PROGRESS, where a real broker accepts them),
  /// so the eager handover cannot be exact against the mock; the eager callback path is covered
  /// by `KafkaReplayTests`.
  ///
  /// The mock has a race of its own in the cooperative case too: it completes a round as soon
  /// as the leader's SyncGroup (which carries every member's assignment) arrives, and answers a
  /// follower's SyncGroup that comes after it with INVALID_REQUEST, so the follower rejoins at
  /// once and the leader's revoke-time commit meets REBALANCE_IN_PROGRESS (seen with
  /// `debug=cgrp` in about 1 run in 8 with both cores busy). A real coordinator answers the late
  /// SyncGroup and accepts commits while a group prepares to rebalance. A run that meets the
  /// race still has to lose nothing; the exact hand-over is asserted on a run that does not,
  /// out of three at most.
  @Test func handoverBetweenTwoConsumersLosesAndDuplicatesNothing() async throws {
    var run = try await handover()
    var attempts = 1
    while attempts < 3, run.commitErrors.contains(where: { $0.code == .rebalanceInProgress }) {
      Self.expectNothingLost(run)
      run = try await handover()
      attempts += 1
    }

    #expect(!run.assignmentA.isEmpty && !run.assignmentB.isEmpty)
    #expect(run.assignmentA.isDisjoint(with: run.assignmentB))
    #expect(run.assignmentA.union(run.assignmentB).count == 4)
    #expect(run.revokedCleanly)
    #expect(run.commitErrors.isEmpty, "after \(attempts) runs")
    let identities = run.records.map { "\($0.partition):\($0.offset)" }
    #expect(Set(identities).count == identities.count, "a record was delivered twice")
    Self.expectNothingLost(run)
  }

  static let total = 200

  static func expectNothingLost(_ run: Handover) {
    #expect(
      Set(MockClusterFixture.values(run.records)) == Set((0..<total).map { "value-\($0)" }),
      "a record was lost")
  }

  /// One run: the first consumer reads part of a 4-partition topic, then the second joins and
  /// both poll until every record was seen and each holds partitions.
  func handover() async throws -> Handover {
    let cluster = try MockKafkaCluster.make(brokers: 1)
    let topic = MockClusterFixture.uniqueName("rebalance")
    let group = MockClusterFixture.uniqueName("group")
    try cluster.createTopic(topic, partitions: 4)
    _ = try await MockClusterFixture.produce(Self.total, to: topic, on: cluster)

    let configuration = MockClusterFixture.consumerConfiguration(cluster)
      .setting("partition.assignment.strategy", "cooperative-sticky")
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
      if seen() >= Self.total && isShared { break }
    }
    let run = Handover(
      assignmentA: Set(consumerA.assignment), assignmentB: Set(consumerB.assignment),
      revokedCleanly: first.events.contains {
        if case .revoked(_, isLost: false) = $0 { true } else { false }
      },
      commitErrors: first.commitErrors + second.commitErrors,
      records: first.records + second.records)
    consumerA.close()
    consumerB.close()
    return run
  }
}
