import Base
import Foundation
import Observability
import Synchronization
import Testing

@testable import Stream

@Suite struct KafkaConsumerErrorTests {
  /// A fatal error recorded from librdkafka's error callback makes the next poll throw it, so
  /// the service can stop cleanly.
  @Test func aRecordedFatalErrorIsThrownByTheNextPoll() throws {
    let cluster = try MockKafkaCluster.make(brokers: 1)
    let consumer = try KafkaConsumer.make(
      configuration: MockClusterFixture.consumerConfiguration(cluster))
    #expect(try consumer.poll(maxRecords: 1, timeout: .zero).isEmpty)
    let fatal = KafkaError(code: .fatal, message: "fenced", isFatal: true)
    consumer.context.recordFatal(fatal)
    consumer.context.recordFatal(KafkaError(code: .fatal, message: "second", isFatal: true))
    let error = #expect(throws: KafkaError.self) {
      try consumer.poll(maxRecords: 1, timeout: .zero)
    }
    #expect(error == fatal)  // the first cause is kept
    consumer.close()
  }

  /// Transient errors (all brokers down) are logged as warnings and the consumer keeps polling.
  @Test func transientErrorsAreLoggedAndPollingContinues() throws {
    let cluster = try MockKafkaCluster.make(brokers: 1)
    let lines = Mutex<[String]>([])
    let logger = Logger(label: "test", level: .warning) { line in
      lines.withLock { $0.append(line) }
    }
    let consumer = try KafkaConsumer.make(
      configuration: MockClusterFixture.consumerConfiguration(cluster), logger: logger)
    try consumer.assign([TopicPartition(topic: "t", partition: 0): 0])
    try cluster.setBrokerDown(1)
    let deadline = ContinuousClock.now + .seconds(10)
    while ContinuousClock.now < deadline
      && !lines.withLock({ $0.contains { $0.contains("transient kafka error") } })
    {
      #expect(try consumer.poll(maxRecords: 1, timeout: .milliseconds(100)).isEmpty)
    }
    #expect(
      lines.withLock { $0.contains { $0.contains("level=warning") && $0.contains("transient") } })
    consumer.close()
  }
}
