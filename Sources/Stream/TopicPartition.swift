/// A partition of a topic; ordered by topic name, then partition number.
public struct TopicPartition: Hashable, Sendable, Comparable, CustomStringConvertible {
  /// The topic's name.
  public var topic: String
  /// The partition number, from 0.
  public var partition: Int32

  /// Names a partition of a topic.
  public init(topic: String, partition: Int32) {
    self.topic = topic
    self.partition = partition
  }

  /// `topic[partition]`.
  public var description: String { "\(topic)[\(partition)]" }

  /// Orders by topic, then partition.
  public static func < (lhs: TopicPartition, rhs: TopicPartition) -> Bool {
    (lhs.topic, lhs.partition) < (rhs.topic, rhs.partition)
  }
}
