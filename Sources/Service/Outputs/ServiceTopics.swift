import Observability
import Stream

/// The topics `serve` writes to, as `publish.create_topics` creates them at start-up: the
/// kernels topic and the state topic compacted (keyed by domain and by partition), the alerts
/// and dead-letter topics with the broker's default policy.
public enum ServiceTopics {
  /// The specifications of `publish.topic`, `checkpoint.state_topic` (both
  /// `cleanup.policy=compact`), `alert.topic` and `input.dead_letter_topic`, with the broker's
  /// default partition count and replication factor. Empty names are left out, repeated names
  /// kept once (the first, compacted, wins).
  public static func specifications(for configuration: Configuration) -> [TopicSpecification] {
    let wanted: [(String, Bool)] = [
      (configuration.settings.publish.topic, true),
      (configuration.settings.checkpoint.stateTopic, true),
      (configuration.settings.alert.topic, false),
      (configuration.settings.input.deadLetterTopic, false),
    ]
    var seen: Set<String> = []
    var result: [TopicSpecification] = []
    for (name, isCompacted) in wanted where !name.isEmpty && seen.insert(name).inserted {
      let broker = TopicSpecification.brokerDefault
      result.append(
        isCompacted
          ? .compacted(name: name, partitions: broker, replicationFactor: broker)
          : TopicSpecification(name: name, partitions: broker, replicationFactor: broker))
    }
    return result
  }

  /// Start-up step of `serve`: when `publish.create_topics` is true, makes sure the service's
  /// topics exist, creating the missing ones (`KafkaAdmin.ensureTopics`: a cluster that cannot
  /// create topics, such as librdkafka's mock broker, gets a warning per topic instead);
  /// otherwise only logs that it leaves topics alone. Returns each topic's status by name.
  ///
  /// - Throws: `KafkaError` when the cluster cannot be reached or refuses a topic.
  public static func ensure(
    configuration: Configuration, logger: Logger, timeout: Duration = .seconds(30)
  ) throws -> [String: KafkaAdmin.TopicStatus] {
    let specifications = specifications(for: configuration)
    guard configuration.settings.publish.createTopics else {
      logger.info(
        "publish.create_topics is false: topics are left as they are",
        ["topics": specifications.map(\.name).joined(separator: ",")])
      return [:]
    }
    return try KafkaAdmin.ensureTopics(
      specifications, configuration: configuration.kafkaConfiguration, logger: logger,
      timeout: timeout)
  }
}
