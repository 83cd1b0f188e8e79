import Foundation
import Observability
import Stream
import Synchronization

/// Helpers shared by the mock-cluster tests.
enum MockClusterFixture {
  /// A unique name per test, so topics and groups never collide.
  static func uniqueName(_ prefix: String) -> String {
    "\(prefix)-\(UUID().uuidString.prefix(8).lowercased())"
  }

  /// Client settings tuned for a fast local mock cluster.
  static func configuration(_ cluster: MockKafkaCluster) -> KafkaConfiguration {
    KafkaConfiguration(bootstrapServers: cluster.bootstrapServers)
      .setting("topic.metadata.refresh.interval.ms", "1000")
      .setting("reconnect.backoff.ms", "50")
      .setting("reconnect.backoff.max.ms", "200")
  }

  /// Consumer settings tuned for fast group joins and rebalances.
  static func consumerConfiguration(_ cluster: MockKafkaCluster) -> KafkaConfiguration {
    configuration(cluster)
      .setting("session.timeout.ms", "6000")
      .setting("heartbeat.interval.ms", "200")
      .setting("fetch.wait.max.ms", "50")
  }

  /// Produces `count` records keyed `key-i` with value `value-i` and waits for delivery.
  static func produce(
    _ count: Int, to topic: String, on cluster: MockKafkaCluster, from start: Int = 0,
    timestampMs: ((Int) -> Int64)? = nil
  ) async throws -> [Delivery] {
    let producer = try KafkaProducer.make(configuration: configuration(cluster))
    var deliveries: [Delivery] = []
    for index in start..<(start + count) {
      deliveries.append(
        try await producer.send(
          OutgoingRecord(
            topic: topic, key: Array("key-\(index)".utf8), value: Array("value-\(index)".utf8),
            timestampMs: timestampMs?(index))))
    }
    try producer.close()
    return deliveries
  }

  /// Polls `consumer` until `count` records arrived or `timeout` passed.
  static func poll(
    _ consumer: KafkaConsumer, count: Int, timeout: Duration = .seconds(15)
  ) throws -> [Record] {
    var records: [Record] = []
    let deadline = ContinuousClock.now + timeout
    while records.count < count && ContinuousClock.now < deadline {
      records += try consumer.poll(maxRecords: count - records.count, timeout: .milliseconds(100))
    }
    return records
  }

  /// The value of each record, as text.
  static func values(_ records: [Record]) -> [String] {
    records.map { String(decoding: $0.value, as: UTF8.self) }
  }
}

/// What a test consumer has processed: records, the next offset per partition, rebalance events
/// and commit errors, updated from the polling thread and its rebalance handler.
final class ConsumerLedger: Sendable {
  private struct State {
    var records: [Record] = []
    var next: [TopicPartition: Int64] = [:]
    var events: [KafkaConsumer.RebalanceEvent] = []
    var commitErrors: [KafkaError] = []
  }
  private let state = Mutex(State())
  private let commitsEveryBatch: Bool

  init(commitsEveryBatch: Bool = false) { self.commitsEveryBatch = commitsEveryBatch }

  /// Records `batch` as processed; commits it right away if asked to.
  func process(_ batch: [Record], _ consumer: KafkaConsumer? = nil) {
    let next: [TopicPartition: Int64] = state.withLock { state in
      state.records += batch
      for record in batch { state.next[record.topicPartition] = record.offset + 1 }
      return state.next
    }
    guard commitsEveryBatch, !batch.isEmpty, let consumer else { return }
    do throws(KafkaError) {
      try consumer.commit(next.filter { consumer.assignment.contains($0.key) })
    } catch {
      state.withLock { $0.commitErrors.append(error) }
    }
  }

  /// A rebalance handler that commits what was processed of revoked partitions (not of lost ones).
  var handler: KafkaConsumer.RebalanceHandler {
    { [self] event, consumer in
      let offsets: [TopicPartition: Int64] = state.withLock { state in
        state.events.append(event)
        guard case .revoked(let partitions, isLost: false) = event else { return [:] }
        return state.next.filter { partitions.contains($0.key) }
      }
      do throws(KafkaError) {
        try consumer.commit(offsets)
      } catch {
        state.withLock { $0.commitErrors.append(error) }
      }
    }
  }

  var records: [Record] { state.withLock { $0.records } }
  var events: [KafkaConsumer.RebalanceEvent] { state.withLock { $0.events } }
  var commitErrors: [KafkaError] { state.withLock { $0.commitErrors } }
}
