/// Symbolic offsets understood by `KafkaConsumer.assign` and the rebalance offset provider.
public enum KafkaOffset {
  /// The first retained record of the partition.
  public static let beginning: Int64 = -2
  /// The end of the partition: only records produced from now on.
  public static let end: Int64 = -1
  /// The group's committed offset (or `auto.offset.reset` when none).
  public static let committed: Int64 = -1000
}
