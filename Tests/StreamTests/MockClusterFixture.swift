import Foundation
import Observability
import Stream

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
