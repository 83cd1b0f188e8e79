internal import CRdKafka

extension KafkaConsumer {
  /// The low and high watermarks of a partition, asked of its leader.
  /// - Throws: `KafkaError` if the partition is unknown or the broker does not answer in time.
  public func watermarks(
    of topicPartition: TopicPartition, timeout: Duration
  ) throws(KafkaError) -> (low: Int64, high: Int64) {
    var low: Int64 = -1
    var high: Int64 = -1
    let code = rd_kafka_query_watermark_offsets(
      handle, topicPartition.topic, topicPartition.partition, &low, &high, milliseconds(timeout))
    guard code == RD_KAFKA_RESP_ERR_NO_ERROR else {
      throw KafkaError(code, context: "querying the watermarks of \(topicPartition)")
    }
    return (low, high)
  }

  /// The number of partitions of `topic`, from cluster metadata.
  /// - Throws: `KafkaError` if the topic does not exist or metadata does not arrive in time.
  public func partitionCount(of topic: String, timeout: Duration) throws(KafkaError) -> Int {
    guard let topicHandle = rd_kafka_topic_new(handle, topic, nil) else {
      throw KafkaError(code: .invalidArgument, message: "invalid topic name '\(topic)'")
    }
    defer { rd_kafka_topic_destroy(topicHandle) }
    var metadata: UnsafePointer<rd_kafka_metadata>?
    let code = rd_kafka_metadata(handle, 0, topicHandle, &metadata, milliseconds(timeout))
    guard code == RD_KAFKA_RESP_ERR_NO_ERROR, let metadata else {
      throw KafkaError(code, context: "reading the metadata of topic \(topic)")
    }
    defer { rd_kafka_metadata_destroy(metadata) }
    guard metadata.pointee.topic_cnt > 0, let topics = metadata.pointee.topics else {
      throw KafkaError(code: .unknownTopic, message: "topic \(topic) is not in the metadata")
    }
    let topicError = topics[0].err
    guard topicError == RD_KAFKA_RESP_ERR_NO_ERROR else {
      throw KafkaError(
        topicError, context: "topic \(topic) (create it first, or check the name)")
    }
    return Int(topics[0].partition_cnt)
  }

  /// For each partition of `topic`, the offset of its first record with a timestamp at or after
  /// `timestampMs`; partitions with no such record give their high watermark (the end).
  /// - Throws: `KafkaError` if the lookup fails or times out.
  public func offsets(
    atTimestamp timestampMs: Int64, topic: String, timeout: Duration
  ) throws(KafkaError) -> [TopicPartition: Int64] {
    let partitions = try partitionCount(of: topic, timeout: timeout)
    let list = TopicPartitionList(
      (0..<partitions).map { (TopicPartition(topic: topic, partition: Int32($0)), timestampMs) })
    let code = rd_kafka_offsets_for_times(handle, list.pointer, milliseconds(timeout))
    guard code == RD_KAFKA_RESP_ERR_NO_ERROR else {
      throw KafkaError(code, context: "looking up offsets at timestamp \(timestampMs) in \(topic)")
    }
    var result: [TopicPartition: Int64] = [:]
    for entry in list.entries {
      guard entry.error == RD_KAFKA_RESP_ERR_NO_ERROR else {
        throw KafkaError(entry.error, context: "offset at timestamp for \(entry.topicPartition)")
      }
      result[entry.topicPartition] =
        entry.offset >= 0
        ? entry.offset : try watermarks(of: entry.topicPartition, timeout: timeout).high
    }
    return result
  }

  /// Turns a start position into explicit offsets for every partition it covers in `topic`.
  /// - Throws: `KafkaError` if the topic or a named partition does not exist, or a lookup fails.
  public func resolve(
    _ position: StartPosition, topic: String, timeout: Duration
  ) throws(KafkaError) -> [TopicPartition: Int64] {
    let partitions = try partitionCount(of: topic, timeout: timeout)
    let all = (0..<partitions).map { TopicPartition(topic: topic, partition: Int32($0)) }
    var result: [TopicPartition: Int64] = [:]
    switch position {
    case .earliest:
      for partition in all { result[partition] = try watermarks(of: partition, timeout: timeout).low }
    case .latest:
      for partition in all { result[partition] = try watermarks(of: partition, timeout: timeout).high }
    case .offsets(let offsets):
      for (partition, offset) in offsets {
        guard partition < partitions else {
          throw KafkaError(
            code: .unknownPartition,
            message:
              "start position names partition \(partition) but \(topic) has \(partitions) "
              + "partitions (0...\(partitions - 1))")
        }
        result[TopicPartition(topic: topic, partition: partition)] = offset
      }
    case .timestamp(let timestampMs):
      result = try offsets(atTimestamp: timestampMs, topic: topic, timeout: timeout)
    }
    return result
  }
}
