internal import CRdKafka
import Observability

extension KafkaAdmin {
  /// What `ensureTopics` found or did for one topic.
  public enum TopicStatus: Sendable, Equatable, CustomStringConvertible {
    /// The topic was already on the cluster (its settings were left as they are).
    case existed
    /// The topic was created as specified.
    case created
    /// The cluster does not answer CreateTopics (librdkafka 2.0.2's mock broker has no
    /// controller) or did not in time: the topic was not created, for the reason given. A broker
    /// that creates topics on first write makes it with its defaults (not compacted).
    case notCreated(String)

    /// `existed`, `created` or `not created: <reason>`.
    public var description: String {
      switch self {
      case .existed: "existed"
      case .created: "created"
      case .notCreated(let reason): "not created: \(reason)"
      }
    }
  }

  /// Makes sure every topic of `topics` exists: those missing from the cluster's metadata are
  /// created as specified (compacted where their specification says so). Each outcome is logged.
  ///
  /// When the cluster cannot create topics through the admin API (no controller, an
  /// unsupported request, or no answer within `timeout`), the missing topics are reported as
  /// `.notCreated` with a warning naming the settings to create them with by hand, and the
  /// call returns normally: the service can still run on a broker that creates topics on first
  /// write. Returns the status of every topic, by name.
  /// - Throws: `KafkaError` when metadata cannot be read, a specification is invalid, or the
  ///   cluster refuses a topic (for example not authorised, or an invalid setting).
  public func ensureTopics(
    _ topics: [TopicSpecification], timeout: Duration
  ) throws(KafkaError) -> [String: TopicStatus] {
    var statuses: [String: TopicStatus] = [:]
    guard !topics.isEmpty else { return statuses }
    let existing = try topicNames(timeout: timeout)
    let missing = topics.filter { !existing.contains($0.name) }
    for topic in topics where existing.contains(topic.name) {
      statuses[topic.name] = .existed
      context.logger.info("topic exists", ["topic": topic.name])
    }
    guard !missing.isEmpty else { return statuses }
    do {
      try createTopics(missing, ignoringExisting: true, timeout: timeout)
    } catch  where Self.meansTopicsCannotBeCreated(error) {
      for topic in missing {
        statuses[topic.name] = .notCreated(error.message)
        context.logger.warning(
          "could not create topic: the cluster does not answer CreateTopics; a broker that "
            + "creates topics on first write will make it with its defaults, so create it "
            + "yourself with the settings shown",
          [
            "topic": topic.name, "partitions": Self.count(topic.partitions),
            "settings": Self.settings(of: topic), "error": error.message,
          ])
      }
      return statuses
    }
    for topic in missing {
      statuses[topic.name] = .created
      context.logger.info(
        "created topic",
        [
          "topic": topic.name, "partitions": Self.count(topic.partitions),
          "settings": Self.settings(of: topic),
        ])
    }
    return statuses
  }

  /// Connects with `configuration` and makes sure `topics` exist; see the instance method.
  /// - Throws: `KafkaError` as `ensureTopics(_:timeout:)`, or for a refused configuration.
  public static func ensureTopics(
    _ topics: [TopicSpecification], configuration: KafkaConfiguration, logger: Logger,
    timeout: Duration = .seconds(30)
  ) throws(KafkaError) -> [String: TopicStatus] {
    try make(configuration: configuration, logger: logger).ensureTopics(topics, timeout: timeout)
  }

  /// The names of the topics on the cluster (without asking it to create any).
  /// - Throws: `KafkaError` if metadata does not arrive within `timeout`.
  public func topicNames(timeout: Duration) throws(KafkaError) -> Set<String> {
    var metadata: UnsafePointer<rd_kafka_metadata>?
    let code = rd_kafka_metadata(handle, 1, nil, &metadata, milliseconds(timeout))
    guard code == RD_KAFKA_RESP_ERR_NO_ERROR, let metadata else {
      throw KafkaError(code, context: "reading the cluster's topics")
    }
    defer { rd_kafka_metadata_destroy(metadata) }
    let topics = UnsafeBufferPointer(
      start: metadata.pointee.topics, count: Int(metadata.pointee.topic_cnt))
    return Set(
      topics.filter { $0.err == RD_KAFKA_RESP_ERR_NO_ERROR }.map { String(cString: $0.topic) })
  }

  /// Whether `error` says the cluster cannot create topics through the admin API at all (as
  /// opposed to refusing one topic): no controller or no answer in time, or an unsupported
  /// request.
  static func meansTopicsCannotBeCreated(_ error: KafkaError) -> Bool {
    let unsupportedVersion = KafkaError.Code(rawValue: 35)
    let unsupportedFeature = KafkaError.Code(rawValue: -165)
    return [.timedOut, .requestTimedOut, unsupportedVersion, unsupportedFeature].contains(
      error.code)
  }

  private static func count(_ value: Int) -> String {
    value == TopicSpecification.brokerDefault ? "broker default" : String(value)
  }

  private static func settings(of topic: TopicSpecification) -> String {
    topic.configuration.isEmpty
      ? "broker defaults"
      : topic.configuration.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
        .joined(separator: ",")
  }
}
