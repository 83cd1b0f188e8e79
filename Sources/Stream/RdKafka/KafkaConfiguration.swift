internal import CRdKafka

/// librdkafka configuration as ordered `key=value` pairs, passed through to `rd_kafka_conf_set`.
///
/// Pairs set later win, so callers add defaults first and the user's `kafka.*` keys last.
public struct KafkaConfiguration: Sendable, Equatable {
  /// The pairs, in the order they are applied.
  public private(set) var pairs: [(key: String, value: String)]

  /// Makes a configuration from pairs (applied in order).
  public init(_ pairs: [(key: String, value: String)] = []) {
    self.pairs = pairs
  }

  /// Makes a configuration with `bootstrap.servers` set.
  public init(bootstrapServers: String) {
    self.init([("bootstrap.servers", bootstrapServers)])
  }

  /// Takes the pairs whose key starts with `prefix` (such as `kafka.` in pipeline.conf), with
  /// the prefix removed: `kafka.security.protocol=SASL_SSL` becomes `security.protocol=SASL_SSL`.
  public init(stripping prefix: String, from pairs: [(key: String, value: String)]) {
    self.init(
      pairs.filter { $0.key.hasPrefix(prefix) && $0.key.count > prefix.count }
        .map { (String($0.key.dropFirst(prefix.count)), $0.value) })
  }

  /// Sets `key` to `value`, replacing an earlier value.
  public mutating func set(_ key: String, _ value: String) {
    pairs.removeAll { $0.key == key }
    pairs.append((key, value))
  }

  /// Returns a copy with `key` set to `value`.
  public func setting(_ key: String, _ value: String) -> KafkaConfiguration {
    var copy = self
    copy.set(key, value)
    return copy
  }

  /// Returns a copy with every pair of `other` applied after this one's.
  public func merging(_ other: KafkaConfiguration) -> KafkaConfiguration {
    var copy = self
    for (key, value) in other.pairs { copy.set(key, value) }
    return copy
  }

  /// The configuration without the consumer-only properties that pipeline.conf's `kafka.*`
  /// keys may hold (a producer would warn about each and ignore it).
  public var withoutConsumerSettings: KafkaConfiguration {
    KafkaConfiguration(pairs.filter { !Self.consumerOnlyKeys.contains($0.key) })
  }

  /// librdkafka properties that only consumers read (CONFIGURATION.md marks them `C`).
  static let consumerOnlyKeys: Set<String> = [
    "partition.assignment.strategy", "session.timeout.ms", "heartbeat.interval.ms",
    "group.id", "group.instance.id", "group.protocol.type", "coordinator.query.interval.ms",
    "max.poll.interval.ms", "enable.auto.commit", "auto.commit.interval.ms",
    "enable.auto.offset.store", "queued.min.messages", "queued.max.messages.kbytes",
    "fetch.wait.max.ms", "fetch.message.max.bytes", "max.partition.fetch.bytes",
    "fetch.max.bytes", "fetch.min.bytes", "fetch.error.backoff.ms", "isolation.level",
    "enable.partition.eof", "check.crcs", "auto.offset.reset", "consume.callback.max.messages",
  ]

  /// The value set for `key`, if any.
  public func value(for key: String) -> String? {
    pairs.last { $0.key == key }?.value
  }

  /// Compares pairs in order.
  public static func == (lhs: KafkaConfiguration, rhs: KafkaConfiguration) -> Bool {
    lhs.pairs.map(\.key) == rhs.pairs.map(\.key) && lhs.pairs.map(\.value) == rhs.pairs.map(\.value)
  }

  /// Builds an `rd_kafka_conf_t`; the caller owns it until `rd_kafka_new` succeeds.
  func makeNativeConfiguration() throws(KafkaError) -> OpaquePointer {
    guard let conf = rd_kafka_conf_new() else {
      throw KafkaError(code: .invalidConfiguration, message: "rd_kafka_conf_new failed")
    }
    for (key, value) in pairs {
      var errorText = [CChar](repeating: 0, count: 512)
      let result = rd_kafka_conf_set(conf, key, value, &errorText, errorText.count)
      if result != RD_KAFKA_CONF_OK {
        rd_kafka_conf_destroy(conf)
        let reason = string(fromBuffer: errorText)
        throw KafkaError(
          code: .invalidConfiguration,
          message:
            "kafka configuration key '\(key)' (value '\(Self.displayed(key, value))') was "
            + "refused: \(reason); "
            + "check the key against librdkafka's CONFIGURATION.md")
      }
    }
    return conf
  }
}
