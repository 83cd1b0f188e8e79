/// A partition of a Kafka topic: the key of consumer positions and of a snapshot's offsets.
///
/// Ordered by topic name (its UTF-8 bytes), then partition number.
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

  /// `topic/partition`, as in logs, messages and transactional ids.
  public var description: String { "\(topic)/\(partition)" }

  /// Reads a `description` back (the partition after the last `/`); nil when it is not one.
  public init?(parsing text: some StringProtocol) {
    guard let slash = text.lastIndex(of: "/"), slash != text.startIndex,
      let partition = Int32(text[text.index(after: slash)...]), partition >= 0
    else { return nil }
    self.init(topic: String(text[..<slash]), partition: partition)
  }

  /// Orders by topic (UTF-8 bytes), then partition.
  public static func < (lhs: TopicPartition, rhs: TopicPartition) -> Bool {
    if lhs.topic != rhs.topic { return lhs.topic.utf8.lexicographicallyPrecedes(rhs.topic.utf8) }
    return lhs.partition < rhs.partition
  }
}
