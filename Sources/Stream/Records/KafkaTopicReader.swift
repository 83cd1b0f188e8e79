import Base
import Observability

/// Reads a topic from its beginning up to the end it had when reading started: for restoring
/// state from a compacted topic (latest value per key) or listing published kernels.
public enum KafkaTopicReader {
  /// Every record of `topic` (all partitions, or only `partitions`) below the high watermarks
  /// taken at the start, in partition order, then offset order.
  /// - Throws: `KafkaError` if the topic does not exist or the end is not reached in `timeout`.
  public static func readAll(
    _ topic: String, partitions: [Int32]? = nil, configuration: KafkaConfiguration,
    logger: Logger = .disabled, timeout: Duration = .seconds(30)
  ) throws(KafkaError) -> [Record] {
    let consumer = try KafkaConsumer.make(configuration: configuration, logger: logger)
    defer { consumer.close() }
    var ends = try consumer.resolve(.latest, topic: topic, timeout: timeout)
    var starts = try consumer.resolve(.earliest, topic: topic, timeout: timeout)
    if let partitions {
      ends = ends.filter { partitions.contains($0.key.partition) }
      starts = starts.filter { partitions.contains($0.key.partition) }
    }
    let ranges = starts.reduce(into: [TopicPartition: (from: Int64, until: Int64)]()) {
      $0[$1.key] = ($1.value, ends[$1.key, default: 0])
    }
    return try read(ranges, with: consumer, timeout: timeout)
  }

  /// The records of each partition in `ranges` from its start (inclusive) to its end
  /// (exclusive), in partition order, then offset order; a record the log no longer holds is
  /// missing from the result (the caller compares counts when it must have all). A record at or
  /// past a partition's end ends it too: the offsets before it may be transaction markers,
  /// which are never delivered (a range whose last offsets are markers with nothing after them
  /// waits out `timeout`).
  /// - Throws: `KafkaError` if a partition does not reach its end in `timeout`.
  public static func read(
    _ ranges: [TopicPartition: (from: Int64, until: Int64)], configuration: KafkaConfiguration,
    logger: Logger = .disabled, timeout: Duration = .seconds(30)
  ) throws(KafkaError) -> [Record] {
    let consumer = try KafkaConsumer.make(configuration: configuration, logger: logger)
    defer { consumer.close() }
    return try read(ranges, with: consumer, timeout: timeout)
  }

  private static func read(
    _ ranges: [TopicPartition: (from: Int64, until: Int64)], with consumer: KafkaConsumer,
    timeout: Duration
  ) throws(KafkaError) -> [Record] {
    var remaining = Set(ranges.filter { $0.value.from < $0.value.until }.keys)
    guard !remaining.isEmpty else { return [] }
    try consumer.assign(ranges.filter { remaining.contains($0.key) }.mapValues(\.from))
    var records: [TopicPartition: [Record]] = [:]
    let deadline = ContinuousClock.now + timeout
    while !remaining.isEmpty {
      guard ContinuousClock.now < deadline else {
        throw KafkaError(
          code: .timedOut,
          message:
            "reading \(remaining.sorted().map(\.description).joined(separator: ", ")): "
            + "did not reach the end within \(timeout)")
      }
      for record in try consumer.poll(maxRecords: 1000, timeout: .milliseconds(100)) {
        let partition = record.topicPartition
        guard let end = ranges[partition]?.until else { continue }
        // A record at or past the end ends the range too: the offsets before it may be
        // transaction markers, which are never delivered.
        guard record.offset < end else {
          remaining.remove(partition)
          continue
        }
        records[partition, default: []].append(record)
        if record.offset + 1 >= end { remaining.remove(partition) }
      }
    }
    return records.keys.sorted().flatMap { records[$0] ?? [] }
  }

  /// The last record of each key in `records` (a compacted topic's live view); records without
  /// a key are left out, and a record with an empty value deletes its key (a tombstone).
  public static func latestByKey(_ records: [Record]) -> [[UInt8]: Record] {
    var latest: [[UInt8]: Record] = [:]
    for record in records {
      guard let key = record.key else { continue }
      latest[key] = record.value.isEmpty ? nil : record
    }
    return latest
  }
}
