import Base

/// Where a produced record was written.
public struct Delivery: Sendable, Equatable {
  /// The partition it was written to.
  public var topicPartition: TopicPartition
  /// Its offset there.
  public var offset: Int64

  /// Makes a delivery report.
  public init(topicPartition: TopicPartition, offset: Int64) {
    self.topicPartition = topicPartition
    self.offset = offset
  }
}
