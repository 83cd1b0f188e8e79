import Base

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

  /// Rebalances so far that took partitions from this reader (0 for sources without a group).
  var revocationCount: Int { get }

  /// Asks the consumer group whether this reader still owns `partitions`, which it held when
  /// `revocationCount` was `revocations`, before it writes anything for them that another
  /// member may own meanwhile (a process paused past its session timeout). Sources without a
  /// group have nothing to check.
  /// - Throws: `KafkaError` when the group refused this member, partitions were taken away
  ///   meanwhile, or the question could not be answered.
  func confirmMembership(
    for partitions: [TopicPartition], heldAtRevocation revocations: Int
  ) throws(KafkaError)

  /// Stops returning records of `partitions` until resumed.
  /// - Throws: `KafkaError` if the source refuses.
  func pause(_ partitions: [TopicPartition]) throws(KafkaError)

  /// Returns records of `partitions` again.
  /// - Throws: `KafkaError` if the source refuses.
  func resume(_ partitions: [TopicPartition]) throws(KafkaError)

  /// Releases the source; polling afterwards fails.
  func close()
}

extension RecordSource {
  /// None by default (no consumer group).
  public var revocationCount: Int { 0 }

  /// Nothing to check by default (no consumer group).
  public func confirmMembership(
    for partitions: [TopicPartition], heldAtRevocation revocations: Int
  ) throws(KafkaError) {}
}
