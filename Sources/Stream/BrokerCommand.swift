import Observability

/// `iak-stream broker`: an in-process mock Kafka cluster on loopback that other processes
/// (kcat, another iak-stream) use as a real cluster.
public enum BrokerCommand {
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
        topic.name, partitions: topic.partitions, replicationFactor: topic.replicationFactor)
    }
    logger.info(
      "mock kafka cluster started",
      [
        "brokers": String(options.brokers), "bootstrap": cluster.bootstrapServers,
        "topics": options.topics.map { "\($0.name):\($0.partitions)" }.joined(separator: ","),
      ])
    return cluster
  }

  /// The line announced on standard output: `bootstrap.servers=HOST:PORT,...`.
  public static func announcement(for cluster: MockKafkaCluster) -> String {
    "bootstrap.servers=\(cluster.bootstrapServers)"
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
    announce(announcement(for: cluster))
    waitForStop()
    logger.info("mock kafka cluster stopping")
    withExtendedLifetime(cluster) {}
  }
}
