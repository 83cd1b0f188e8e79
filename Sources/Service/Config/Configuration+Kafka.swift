import Stream

extension Configuration {
  /// librdkafka settings from the `kafka.*` keys, passed through unchanged.
  public var kafkaConfiguration: KafkaConfiguration {
    KafkaConfiguration(kafka.map { (key: $0.key, value: $0.value) })
  }

  /// The configuration with `kafka.bootstrap.servers` replaced when `servers` is given (the
  /// `--bootstrap-servers` shortcut of the Kafka commands).
  public func overridingBootstrapServers(_ servers: String?) throws(ConfigError) -> Configuration {
    guard let servers else { return self }
    var copy = self
    try copy.apply(override: "kafka.bootstrap.servers=\(servers)")
    return copy
  }
}
