/// The lane of every input partition: the number that keys a partition's event-time clock in
/// the joiner and the trainer, and owns the domains whose first example came from it.
///
/// A lane is the partition number plus the topic's place among the sorted `input.topics` times
/// 2^20, so partition 0 of two topics are two lanes, and every process of a group (which reads
/// the same topics) numbers them alike. With one topic a lane is its partition number. A topic
/// outside the list (a file, a replayed topic not configured) counts as the first.
import Base

struct InputLanes {
  /// Partitions per topic a lane number keeps apart.
  static let partitionsPerTopic: Int32 = 1 << 20
  /// Topics a lane number keeps apart (Int32 holds 2^31 lanes).
  static let maxTopics = 2047

  private let topicBase: [String: Int32]

  /// Numbers the lanes of `topics`.
  ///
  /// - Throws: `ServiceError` (`configuration`) for more than `maxTopics` topics.
  init(topics: [String]) throws {
    let sorted = Set(topics).sorted()
    guard sorted.count <= Self.maxTopics else {
      throw ServiceError(
        .configuration,
        "input.topics lists \(sorted.count) topics; one process reads at most \(Self.maxTopics)")
    }
    topicBase = Dictionary(
      uniqueKeysWithValues: sorted.enumerated().map {
        ($0.element, Int32($0.offset) * Self.partitionsPerTopic)
      })
  }

  /// The lane of `partition`. Partition numbers from 2^20 on share lanes with the next topic's
  /// (Kafka's own limits keep topics far below that).
  func lane(of partition: TopicPartition) -> Int32 {
    (topicBase[partition.topic] ?? 0) &+ partition.partition
  }
}
