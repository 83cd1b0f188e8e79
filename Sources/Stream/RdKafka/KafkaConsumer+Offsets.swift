import Base
internal import CRdKafka

extension KafkaConsumer {
  /// The low and high watermarks of a partition, asked of its leader.
  /// - Throws: `KafkaError` if the partition is unknown or the broker does not answer in time.
  public func watermarks(
    of topicPartition: TopicPartition, timeout: Duration
  ) throws(KafkaError) -> (low: Int64, high: Int64) {
    try queryWatermarks(handle, of: topicPartition, timeout: timeout)
  }

  /// The number of partitions of `topic`, from cluster metadata.
  ///
  /// Asks for all topics, so that brokers that create topics on demand do not create this one.
  /// - Throws: `KafkaError` if the topic does not exist or metadata does not arrive in time.
  public func partitionCount(of topic: String, timeout: Duration) throws(KafkaError) -> Int {
    var metadata: UnsafePointer<rd_kafka_metadata>?
    let code = rd_kafka_metadata(handle, 1, nil, &metadata, milliseconds(timeout))
    guard code == RD_KAFKA_RESP_ERR_NO_ERROR, let metadata else {
      throw KafkaError(code, context: "reading the metadata of topic \(topic)")
    }
    defer { rd_kafka_metadata_destroy(metadata) }
    let topics = UnsafeBufferPointer(
      start: metadata.pointee.topics, count: Int(metadata.pointee.topic_cnt))
    guard let entry = topics.first(where: { String(cString: $0.topic) == topic }) else {
      throw KafkaError(
        code: .unknownTopic,
        message: "topic \(topic) does not exist on the cluster; create it or check the name")
    }
    guard entry.err == RD_KAFKA_RESP_ERR_NO_ERROR else {
      throw KafkaError(entry.err, context: "topic \(topic) (check the name and permissions)")
    }
    return Int(entry.partition_cnt)
  }

  /// For each partition of `topic`, the offset of its first record with a timestamp at or after
  /// `timestampMs`; partitions with no such record give their high watermark (the end).
  ///
  /// Asks the brokers (`offsets_for_times`). When a broker answers "none" although the
  /// partition's last record is at or after the time (brokers without the time index, such as
  /// librdkafka's mock), the offset is found by a binary search over fetched records instead.
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
    var probe: TimestampProbe?
    for entry in list.entries {
      guard entry.error == RD_KAFKA_RESP_ERR_NO_ERROR else {
        throw KafkaError(entry.error, context: "offset at timestamp for \(entry.topicPartition)")
      }
      let (low, high) = try watermarks(of: entry.topicPartition, timeout: timeout)
      guard (entry.offset < 0 || entry.offset >= high) && low < high else {
        result[entry.topicPartition] = entry.offset >= 0 ? entry.offset : high
        continue
      }
      if probe == nil { probe = try TimestampProbe(configuration: configuration, timeout: timeout) }
      result[entry.topicPartition] = try probe!.firstOffset(
        atOrAfter: timestampMs, in: entry.topicPartition, low: low, high: high)
    }
    probe?.consumer.close()
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
      for partition in all {
        result[partition] = try watermarks(of: partition, timeout: timeout).low
      }
    case .latest:
      for partition in all {
        result[partition] = try watermarks(of: partition, timeout: timeout).high
      }
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

/// Reads single records to find an offset by timestamp when the broker cannot.
private struct TimestampProbe {
  let consumer: KafkaConsumer
  let timeout: Duration

  init(configuration: KafkaConfiguration, timeout: Duration) throws(KafkaError) {
    var settings = configuration
    settings.set("group.id", "iak-timestamp-probe")
    self.consumer = try KafkaConsumer.make(configuration: settings)
    self.timeout = timeout
  }

  /// The first offset in `low..<high` whose record is at or after `timestampMs`, or `high`.
  func firstOffset(
    atOrAfter timestampMs: Int64, in partition: TopicPartition, low: Int64, high: Int64
  ) throws(KafkaError) -> Int64 {
    var lower = low
    var upper = high
    while lower < upper {
      let middle = lower + (upper - lower) / 2
      let record = try read(partition, at: middle)
      if (record.timestampMs ?? .min) >= timestampMs {
        upper = middle
      } else {
        lower = record.offset + 1
      }
    }
    return lower
  }

  private func read(_ partition: TopicPartition, at offset: Int64) throws(KafkaError) -> Record {
    try consumer.assign([partition: offset])
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
      if let record = try consumer.poll(maxRecords: 1, timeout: .milliseconds(100)).first {
        return record
      }
    }
    throw KafkaError(
      code: .timedOut, message: "no record of \(partition) at offset \(offset) within \(timeout)")
  }
}

/// The low and high watermarks of a partition, asked of its leader through any client `handle`.
func queryWatermarks(
  _ handle: OpaquePointer, of topicPartition: TopicPartition, timeout: Duration
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
