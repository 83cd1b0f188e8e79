internal import CRdKafka
import Observability

/// Owns a client handle for administrative requests to a real cluster (creating topics).
///
/// `@unchecked Sendable`: admin calls on a librdkafka handle are thread-safe.
public final class KafkaAdmin: @unchecked Sendable {
  let handle: OpaquePointer
  let context: KafkaClientContext

  private init(handle: OpaquePointer, context: KafkaClientContext) {
    self.handle = handle
    self.context = context
  }

  /// Connects to the cluster in `configuration` (with pass-through security settings).
  /// - Throws: `KafkaError` naming a refused configuration key, or why the handle failed.
  public static func make(
    configuration: KafkaConfiguration, logger: Logger = .disabled
  ) throws(KafkaError) -> KafkaAdmin {
    let context = KafkaClientContext(logger: logger, metrics: nil)
    // An admin client is a producer handle: consumer-only properties would each be warned of.
    let conf = try configuration.withoutConsumerSettings.makeNativeConfiguration()
    context.install(on: conf)
    var errorText = [CChar](repeating: 0, count: 512)
    guard let handle = rd_kafka_new(RD_KAFKA_PRODUCER, conf, &errorText, errorText.count) else {
      rd_kafka_conf_destroy(conf)
      throw configuration.creationError("admin client", reason: string(fromBuffer: errorText))
    }
    return KafkaAdmin(handle: handle, context: context)
  }

  deinit { rd_kafka_destroy(handle) }

  /// Creates `topics` with CreateTopics; topics that already exist are left as they are when
  /// `ignoringExisting`.
  /// - Throws: `KafkaError` for the first topic the cluster refused, or on timeout.
  public func createTopics(
    _ topics: [TopicSpecification], ignoringExisting: Bool = true, timeout: Duration
  ) throws(KafkaError) {
    guard !topics.isEmpty else { return }
    var newTopics: [OpaquePointer?] = []
    defer { for topic in newTopics { rd_kafka_NewTopic_destroy(topic) } }
    for topic in topics {
      let isValid = { (count: Int) in count >= 1 || count == TopicSpecification.brokerDefault }
      guard isValid(topic.partitions), isValid(topic.replicationFactor) else {
        throw KafkaError(
          code: .invalidArgument,
          message:
            "topic \(topic.name): partitions (\(topic.partitions)) and replication factor "
            + "(\(topic.replicationFactor)) must be at least 1, or -1 for the broker's default")
      }
      var errorText = [CChar](repeating: 0, count: 512)
      guard
        let newTopic = rd_kafka_NewTopic_new(
          topic.name, Int32(topic.partitions), Int32(topic.replicationFactor), &errorText,
          errorText.count)
      else {
        throw KafkaError(
          code: .invalidArgument,
          message: "topic \(topic.name) cannot be requested: \(string(fromBuffer: errorText))")
      }
      newTopics.append(newTopic)
      for (key, value) in topic.configuration.sorted(by: { $0.key < $1.key }) {
        let code = rd_kafka_NewTopic_set_config(newTopic, key, value)
        guard code == RD_KAFKA_RESP_ERR_NO_ERROR else {
          throw KafkaError(code, context: "topic \(topic.name) configuration '\(key)=\(value)'")
        }
      }
    }
    let queue = rd_kafka_queue_new(handle)
    defer { rd_kafka_queue_destroy(queue) }
    let options = rd_kafka_AdminOptions_new(handle, RD_KAFKA_ADMIN_OP_CREATETOPICS)
    defer { rd_kafka_AdminOptions_destroy(options) }
    var errorText = [CChar](repeating: 0, count: 512)
    _ = rd_kafka_AdminOptions_set_operation_timeout(
      options, milliseconds(timeout), &errorText, errorText.count)
    _ = rd_kafka_AdminOptions_set_request_timeout(
      options, milliseconds(timeout), &errorText, errorText.count)
    newTopics.withUnsafeMutableBufferPointer {
      rd_kafka_CreateTopics(handle, $0.baseAddress, $0.count, options, queue)
    }
    guard let event = rd_kafka_queue_poll(queue, milliseconds(timeout) + 1000) else {
      throw KafkaError(
        code: .timedOut,
        message: "creating topics: no answer from the cluster within \(timeout)")
    }
    defer { rd_kafka_event_destroy(event) }
    let eventError = rd_kafka_event_error(event)
    guard eventError == RD_KAFKA_RESP_ERR_NO_ERROR else {
      throw KafkaError(
        eventError,
        context: "creating topics: \(String(cString: rd_kafka_event_error_string(event)))")
    }
    guard let result = rd_kafka_event_CreateTopics_result(event) else {
      throw KafkaError(code: .state, message: "creating topics: unexpected admin result event")
    }
    var count = 0
    guard let results = rd_kafka_CreateTopics_result_topics(result, &count) else { return }
    for index in 0..<count {
      let topicResult = results[index]
      let code = rd_kafka_topic_result_error(topicResult)
      let name = String(cString: rd_kafka_topic_result_name(topicResult))
      if code == RD_KAFKA_RESP_ERR_NO_ERROR { continue }
      if code == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS && ignoringExisting {
        context.logger.info("topic already exists", ["topic": name])
        continue
      }
      let detail = rd_kafka_topic_result_error_string(topicResult).map { String(cString: $0) }
      throw KafkaError(code, context: "creating topic \(name): \(detail ?? "refused")")
    }
  }
}
