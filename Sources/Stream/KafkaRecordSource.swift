/// A `RecordSource` reading Kafka topics through a `KafkaConsumer`.
public final class KafkaRecordSource: RecordSource {
  /// The consumer records are read with; for seeking, lag and watermarks.
  public let consumer: KafkaConsumer

  /// Reads through `consumer`, already subscribed or assigned.
  public init(consumer: KafkaConsumer) {
    self.consumer = consumer
  }

  /// Polls the consumer.
  /// - Throws: a fatal `KafkaError`.
  public func poll(maxRecords: Int, timeout: Duration) throws(KafkaError) -> [Record] {
    try consumer.poll(maxRecords: maxRecords, timeout: timeout)
  }

  /// The consumer's assignment.
  public var assignment: [TopicPartition] { consumer.assignment }

  /// Always false: a topic has no end.
  public var isEndOfInput: Bool { false }

  /// Commits through the consumer.
  /// - Throws: `KafkaError` if the commit failed.
  public func commit(_ offsets: [TopicPartition: Int64]) throws(KafkaError) {
    try consumer.commit(offsets)
  }

  /// Pauses fetching.
  /// - Throws: `KafkaError` if librdkafka refuses.
  public func pause(_ partitions: [TopicPartition]) throws(KafkaError) {
    try consumer.pause(partitions)
  }

  /// Resumes fetching.
  /// - Throws: `KafkaError` if librdkafka refuses.
  public func resume(_ partitions: [TopicPartition]) throws(KafkaError) {
    try consumer.resume(partitions)
  }

  /// Closes the consumer (leaving its group).
  public func close() { consumer.close() }
}
