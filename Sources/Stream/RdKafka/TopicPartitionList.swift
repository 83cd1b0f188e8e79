import Base
internal import CRdKafka

/// An owned `rd_kafka_topic_partition_list_t`, destroyed with this value.
final class TopicPartitionList {
  let pointer: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>

  init(capacity: Int = 4) {
    pointer = rd_kafka_topic_partition_list_new(Int32(max(capacity, 1)))
  }

  /// Builds a list with each partition's offset set (`RD_KAFKA_OFFSET_INVALID` when nil).
  convenience init(_ offsets: [(TopicPartition, Int64?)]) {
    self.init(capacity: offsets.count)
    for (topicPartition, offset) in offsets {
      add(topicPartition, offset: offset ?? Int64(RD_KAFKA_OFFSET_INVALID))
    }
  }

  deinit { rd_kafka_topic_partition_list_destroy(pointer) }

  func add(_ topicPartition: TopicPartition, offset: Int64) {
    let element = rd_kafka_topic_partition_list_add(
      pointer, topicPartition.topic, topicPartition.partition)
    element?.pointee.offset = offset
  }

  /// Copies the entries of a list we do not own.
  static func entries(
    of list: UnsafePointer<rd_kafka_topic_partition_list_t>?
  ) -> [(topicPartition: TopicPartition, offset: Int64, error: rd_kafka_resp_err_t)] {
    guard let list, let elements = list.pointee.elems else { return [] }
    return (0..<Int(list.pointee.cnt)).map { index in
      let element = elements[index]
      return (
        TopicPartition(topic: String(cString: element.topic), partition: element.partition),
        element.offset, element.err
      )
    }
  }

  var entries: [(topicPartition: TopicPartition, offset: Int64, error: rd_kafka_resp_err_t)] {
    TopicPartitionList.entries(of: pointer)
  }
}

/// Milliseconds for a librdkafka timeout, clamped to `Int32`.
func milliseconds(_ duration: Duration) -> Int32 {
  let (seconds, attoseconds) = duration.components
  let total = seconds * 1000 + attoseconds / 1_000_000_000_000_000
  return Int32(clamping: max(total, 0))
}

/// Copies a C string buffer filled by librdkafka.
func string(fromBuffer buffer: [CChar]) -> String {
  String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}
