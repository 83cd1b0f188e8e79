/// Where the pipeline reads records from: a Kafka consumer or a JSON-lines file.
///
/// The pipeline cannot tell implementations apart: it polls batches, commits the offsets of its
/// snapshots (the next offset to read per partition), pauses for backpressure, and stops when
/// `isEndOfInput` says there will be no more records.
public protocol RecordSource: AnyObject, Sendable {
  /// Waits up to `timeout` for records and returns at most `maxRecords` of them.
  /// - Throws: `KafkaError` when reading fails for good (a fatal client error, an unreadable
  ///   file); transient problems are retried inside.
  func poll(maxRecords: Int, timeout: Duration) throws(KafkaError) -> [Record]

  /// The partitions currently read, sorted.
  var assignment: [TopicPartition] { get }

  /// Whether every record has been returned and none will follow (never true for Kafka).
  var isEndOfInput: Bool { get }

  /// Records that `offsets` (next offset to read per partition) are safely processed.
  /// - Throws: `KafkaError` if the commit failed.
  func commit(_ offsets: [TopicPartition: Int64]) throws(KafkaError)

  /// Stops returning records of `partitions` until resumed.
  /// - Throws: `KafkaError` if the source refuses.
  func pause(_ partitions: [TopicPartition]) throws(KafkaError)

  /// Returns records of `partitions` again.
  /// - Throws: `KafkaError` if the source refuses.
  func resume(_ partitions: [TopicPartition]) throws(KafkaError)

  /// Releases the source; polling afterwards fails.
  func close()
}
