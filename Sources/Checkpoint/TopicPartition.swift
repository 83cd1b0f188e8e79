/// A Kafka topic and partition, the key of a snapshot's offsets (Checkpoint knows no broker).
public struct TopicPartition: Hashable, Sendable, Comparable, CustomStringConvertible {
  /// The topic name.
  public var topic: String
  /// The partition number.
  public var partition: Int32

  /// Creates a topic-partition pair.
  public init(topic: String, partition: Int32) {
    self.topic = topic
    self.partition = partition
  }

  /// Orders by topic (UTF-8 bytes), then partition.
  public static func < (lhs: TopicPartition, rhs: TopicPartition) -> Bool {
    if lhs.topic != rhs.topic { return SafeTensors.precedes(lhs.topic, rhs.topic) }
    return lhs.partition < rhs.partition
  }

  /// `topic/partition`, as in logs.
  public var description: String { "\(topic)/\(partition)" }
}
