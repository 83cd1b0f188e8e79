/// A topic to create: name, partition count, replication and topic-level configuration.
public struct TopicSpecification: Sendable, Equatable {
  /// The topic's name.
  public var name: String
  /// The number of partitions, or `brokerDefault`.
  public var partitions: Int
  /// The replication factor, or `brokerDefault`.
  public var replicationFactor: Int

  /// A partition count or replication factor of -1: the broker's default (`num.partitions`,
  /// `default.replication.factor`; brokers 2.4 and later).
  public static let brokerDefault = -1
  /// Topic configuration pairs such as `cleanup.policy=compact`.
  public var configuration: [String: String]

  /// Describes a topic.
  public init(
    name: String, partitions: Int, replicationFactor: Int = 1,
    configuration: [String: String] = [:]
  ) {
    self.name = name
    self.partitions = partitions
    self.replicationFactor = replicationFactor
    self.configuration = configuration
  }

  /// A log-compacted topic (`cleanup.policy=compact`): only the latest record per key is kept.
  public static func compacted(
    name: String, partitions: Int, replicationFactor: Int = 1
  ) -> TopicSpecification {
    TopicSpecification(
      name: name, partitions: partitions, replicationFactor: replicationFactor,
      configuration: ["cleanup.policy": "compact"])
  }

  /// Whether only the latest record per key is kept (`cleanup.policy` includes `compact`).
  public var isCompacted: Bool {
    configuration["cleanup.policy"]?.split(separator: ",").contains { $0 == "compact" } ?? false
  }

  /// Parses `NAME:PARTITIONS` (as in `--topic events:4`); a bare name gets one partition.
  /// - Throws: `KafkaError` (`.invalidInput`) if the name is empty or the count is not >= 1.
  public init(parsing text: String) throws(KafkaError) {
    let pieces = text.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
    let name = String(pieces[0])
    let partitions = pieces.count == 2 ? Int(pieces[1]) : 1
    guard !name.isEmpty, let partitions, partitions >= 1 else {
      throw KafkaError(
        code: .invalidInput,
        message: "topic '\(text)': expected NAME:PARTITIONS with a partition count of at least 1")
    }
    self.init(name: name, partitions: partitions)
  }
}
