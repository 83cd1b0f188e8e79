import Foundation
import Testing

@testable import Stream

/// librdkafka fabricates fatal errors usefully only for the idempotent producer (a 2.0.2
/// consumer handle then hangs in `rd_kafka_destroy`); the consumer side of fatal handling is
/// covered in `KafkaConsumerErrorTests`.
@Suite struct KafkaFatalErrorTests {
  @Test func aFatalProducerErrorRefusesFurtherSends() async throws {
    let cluster = try MockKafkaCluster.make(brokers: 1)
    try cluster.createTopic("t", partitions: 1)
    let producer = try KafkaProducer.make(
      configuration: MockClusterFixture.configuration(cluster))
    _ = try await producer.send(OutgoingRecord(topic: "t", value: [1]))
    producer.raiseFatalErrorForTesting(.requestTimedOut, reason: "fabricated")
    var caught: KafkaError?
    let deadline = ContinuousClock.now + .seconds(5)
    while caught == nil && ContinuousClock.now < deadline {
      do throws(KafkaError) {
        _ = try await producer.send(OutgoingRecord(topic: "t", value: [2]))
      } catch {
        caught = error
      }
    }
    let error = try #require(caught)
    #expect(error.isFatal || error.code == .fatal)
    try? producer.close(timeout: .milliseconds(200))
  }
}
