import Observability

/// The in-process mock Kafka cluster behind `iak-stream broker`, on loopback, that other processes
/// (kcat, another iak-stream) use as a real cluster.
public enum MockBroker {
  /// What to start.
  public struct Options: Sendable, Equatable {
    /// The number of brokers.
    public var brokers: Int
    /// The topics to create.
    public var topics: [TopicSpecification]

    /// Describes a cluster.
    public init(brokers: Int = 1, topics: [TopicSpecification] = []) {
      self.brokers = brokers
      self.topics = topics
    }
  }

  /// Starts the cluster, creates the topics and returns it (the caller keeps it alive).
  /// - Throws: `KafkaError` if the cluster or a topic cannot be created.
  public static func start(_ options: Options, logger: Logger) throws(KafkaError)
    -> MockKafkaCluster
  {
    let cluster = try MockKafkaCluster.make(brokers: options.brokers, logger: logger)
    for topic in options.topics {
      try cluster.createTopic(
        topic.name, partitions: max(topic.partitions, 1),
        replicationFactor: max(topic.replicationFactor, 1))
    }
    logger.info(
      "mock kafka cluster started",
      [
        "brokers": String(options.brokers), "bootstrap": cluster.bootstrapServers,
        "topics": options.topics.map { "\($0.name):\(max($0.partitions, 1))" }
          .joined(separator: ","),
      ])
    return cluster
  }

  /// About how many bytes of records librdkafka's mock broker keeps per partition before it
  /// drops the oldest (measured: 8 MB into one partition lost the first ~3 MB).
  public static let retainedBytesPerPartition = 5 * 1024 * 1024

  /// The lines announced on standard output: `bootstrap.servers=HOST:PORT,...`, then, as `#`
  /// comments, the retention limit and what each topic holds before it drops records.
  public static func announcement(for cluster: MockKafkaCluster, topics: [TopicSpecification])
    -> [String]
  {
    // A MovieLens event line is about 150 bytes, plus ~25 bytes of record overhead.
    let eventsPerPartition = retainedBytesPerPartition / 175
    var lines = [
      "bootstrap.servers=\(cluster.bootstrapServers)",
      "# development broker: in memory; it keeps about 5 MiB of records per partition (some "
        + "\(eventsPerPartition / 1000),000 events of 150 bytes) and silently drops the oldest "
        + "beyond that: produce more only while a consumer keeps up, or use more partitions",
    ]
    for topic in topics {
      let partitions = max(topic.partitions, 1)
      let mebibytes = partitions * retainedBytesPerPartition / (1024 * 1024)
      lines.append("# \(topic.name): \(partitions) partition(s), about \(mebibytes) MiB")
    }
    return lines
  }

  /// Starts the cluster, hands `announce` the `bootstrap.servers=...` line (the CLI prints and
  /// flushes it), serves until `waitForStop` returns (SIGTERM or SIGINT by default), then stops.
  /// - Throws: `KafkaError` if the cluster or a topic cannot be created.
  public static func run(
    _ options: Options, logger: Logger, announce: (String) -> Void,
    waitForStop: () -> Void = {
      let signal = ShutdownSignal()
      signal.installProcessHandlers()
      signal.waitUntilRequested()
    }
  ) throws(KafkaError) {
    let cluster = try start(options, logger: logger)
    for line in announcement(for: cluster, topics: options.topics) { announce(line) }
    waitForStop()
    logger.info("mock kafka cluster stopping")
    withExtendedLifetime(cluster) {}
  }
}
