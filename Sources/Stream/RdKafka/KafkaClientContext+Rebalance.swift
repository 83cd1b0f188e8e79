internal import CRdKafka

extension KafkaClientContext {
  /// Handles a rebalance for both protocols: cooperative (incremental) and eager (whole).
  ///
  /// Gains: the offset provider's offsets become the start positions, then the handler hears
  /// `assigned`. Losses: the handler hears `revoked` while the partitions are still owned (so
  /// it can commit), then they are released.
  func rebalance(
    handle: OpaquePointer, code: rd_kafka_resp_err_t,
    partitions: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>?
  ) {
    let isCooperative =
      rd_kafka_rebalance_protocol(handle).map { String(cString: $0) } == "COOPERATIVE"
    let changed = TopicPartitionList.entries(of: partitions).map(\.topicPartition)
    switch code {
    case RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS:
      if let partitions, let startOffset, let elements = partitions.pointee.elems {
        for index in 0..<Int(partitions.pointee.cnt) {
          if let offset = startOffset(changed[index]) { elements[index].offset = offset }
        }
      }
      if isCooperative {
        if let error = rd_kafka_incremental_assign(handle, partitions) {
          report(KafkaError(consuming: error, context: "incremental assign"))
        }
      } else {
        let result = rd_kafka_assign(handle, partitions)
        if result != RD_KAFKA_RESP_ERR_NO_ERROR {
          report(KafkaError(result, context: "assign"))
        }
      }
      logger.info(
        "partitions assigned",
        [
          "partitions": changed.map(\.description).joined(separator: ","),
          "protocol": isCooperative ? "cooperative" : "eager",
        ])
      if let consumer, let onRebalance { onRebalance(.assigned(changed), consumer) }
    case RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS:
      let isLost = rd_kafka_assignment_lost(handle) != 0
      revocations.add(1, ordering: .sequentiallyConsistent)
      logger.info(
        isLost ? "partitions lost" : "partitions revoked",
        ["partitions": changed.map(\.description).joined(separator: ",")])
      if let consumer, let onRebalance { onRebalance(.revoked(changed, isLost: isLost), consumer) }
      if isCooperative {
        if let error = rd_kafka_incremental_unassign(handle, partitions) {
          report(KafkaError(consuming: error, context: "incremental unassign"))
        }
      } else {
        let result = rd_kafka_assign(handle, nil)
        if result != RD_KAFKA_RESP_ERR_NO_ERROR {
          report(KafkaError(result, context: "unassign"))
        }
      }
    default:
      logger.error(
        "rebalance failed; releasing the assignment",
        ["error": KafkaError(code, context: "rebalance").description])
      _ = rd_kafka_assign(handle, nil)
    }
  }

  private func report(_ error: KafkaError) {
    if error.isFatal { recordFatal(error) }
    logger.error("rebalance step failed", ["error": error.description])
  }
}
