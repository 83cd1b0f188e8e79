import Base

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

  /// The consumer's revocation count.
  public var revocationCount: Int { consumer.revocationCount }

  /// Asks through the consumer (`KafkaConsumer.confirmMembership(for:heldAtRevocation:)`).
  /// - Throws: `KafkaError` when the group refused this member or partitions were taken away.
  public func confirmMembership(
    for partitions: [TopicPartition], heldAtRevocation revocations: Int
  ) throws(KafkaError) {
    try consumer.confirmMembership(for: partitions, heldAtRevocation: revocations)
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
