import Observability

extension KafkaRecordSource {
  /// A source that joins consumer group `groupID` on `topics`.
  ///
  /// `onRebalance` hears gained and lost partitions (commit on `revoked`); `startOffset` gives
  /// the snapshot offset of each gained partition.
  /// - Throws: `KafkaError` for a refused configuration key or subscription.
  public static func subscribing(
    to topics: [String], groupID: String, configuration: KafkaConfiguration,
    logger: Logger = .disabled, metrics: MetricsRegistry? = nil,
    onRebalance: KafkaConsumer.RebalanceHandler? = nil,
    startOffset: KafkaConsumer.OffsetProvider? = nil
  ) throws(KafkaError) -> KafkaRecordSource {
    let consumer = try KafkaConsumer.make(
      configuration: configuration, groupID: groupID, logger: logger, metrics: metrics,
      onRebalance: onRebalance, startOffset: startOffset)
    try consumer.subscribe(topics: topics)
    return KafkaRecordSource(consumer: consumer)
  }

  /// A source that replays `topic` from `position` without a group (nothing is committed to
  /// the service's group).
  /// - Throws: `KafkaError` if the topic or a named partition does not exist, or a lookup fails.
  public static func replaying(
    _ topic: String, from position: StartPosition, configuration: KafkaConfiguration,
    logger: Logger = .disabled, metrics: MetricsRegistry? = nil, timeout: Duration = .seconds(10)
  ) throws(KafkaError) -> KafkaRecordSource {
    let consumer = try KafkaConsumer.make(
      configuration: configuration, logger: logger, metrics: metrics)
    do {
      try consumer.assign(try consumer.resolve(position, topic: topic, timeout: timeout))
    } catch {
      consumer.close()
      throw error
    }
    return KafkaRecordSource(consumer: consumer)
  }
}
