import Base
internal import CRdKafka

extension KafkaProducer {
  /// Looks up `topics` now, so that the first record sent to each one goes out at once.
  ///
  /// Without it librdkafka learns a topic's partitions only after the first send to it, at its
  /// next metadata round (up to about a second later), which delays a service's first publish.
  /// - Throws: `KafkaError` naming the topic whose metadata did not arrive within `timeout`.
  public func prepare(topics: [String], timeout: Duration = .seconds(10)) throws(KafkaError) {
    for topic in topics {
      guard let topicHandle = rd_kafka_topic_new(handle, topic, nil) else {
        throw KafkaError(
          code: .invalidArgument, message: "topic name \(topic.debugDescription) is not usable")
      }
      defer { rd_kafka_topic_destroy(topicHandle) }
      var metadata: UnsafePointer<rd_kafka_metadata>?
      let code = rd_kafka_metadata(handle, 0, topicHandle, &metadata, milliseconds(timeout))
      guard code == RD_KAFKA_RESP_ERR_NO_ERROR, let metadata else {
        throw KafkaError(code, context: "looking up topic \(topic) before the first send")
      }
      rd_kafka_metadata_destroy(metadata)
    }
  }

  /// The low and high watermarks of a partition, asked of its leader (for example to check
  /// that what was written is still retained).
  /// - Throws: `KafkaError` if the partition is unknown or the broker does not answer in time.
  public func watermarks(
    of topicPartition: TopicPartition, timeout: Duration
  ) throws(KafkaError) -> (low: Int64, high: Int64) {
    try queryWatermarks(handle, of: topicPartition, timeout: timeout)
  }
}
