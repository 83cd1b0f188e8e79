import Base
import Foundation
import Stream
import Synchronization
import Testing

@Suite struct KafkaShutdownTests {
  /// Dropping the last reference to a producer inside its own delivery handler runs `deinit` on
  /// the polling thread; it must not wait for itself (a silent deadlock) nor destroy the handle
  /// while `rd_kafka_poll` still runs on it.
  @Test func aProducerReleasedInsideItsDeliveryHandlerShutsDown() async throws {
    let cluster = try MockKafkaCluster.make(brokers: 1)
    let topic = MockClusterFixture.uniqueName("release")
    try cluster.createTopic(topic, partitions: 1)
    let holder = Mutex<KafkaProducer?>(
      try KafkaProducer.make(configuration: MockClusterFixture.configuration(cluster)))
    let result: Result<Delivery, KafkaError> = await withCheckedContinuation { continuation in
      let producer = holder.withLock { $0 }
      do throws(KafkaError) {
        try producer?.send(OutgoingRecord(topic: topic, value: Array("only".utf8))) { result in
          let last = holder.withLock { held in
            defer { held = nil }
            return held
          }
          _ = last  // released at the end of this handler, on the polling thread
          continuation.resume(returning: result)
        }
      } catch {
        continuation.resume(returning: .failure(error))
      }
    }
    #expect(try result.get().offset == 0)
    // The cluster still serves new clients, and the record is there.
    _ = try await MockClusterFixture.produce(1, to: topic, on: cluster)
    let consumer = try KafkaConsumer.make(
      configuration: MockClusterFixture.consumerConfiguration(cluster))
    try consumer.assign([TopicPartition(topic: topic, partition: 0): KafkaOffset.beginning])
    let records = try MockClusterFixture.poll(consumer, count: 2)
    consumer.close()
    #expect(records.map(\.offset) == [0, 1])
    #expect(records.first?.value == Array("only".utf8))
  }
}
