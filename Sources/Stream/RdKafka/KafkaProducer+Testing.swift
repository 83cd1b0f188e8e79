internal import CRdKafka

extension KafkaProducer {
  /// Raises a fabricated fatal error on the handle, to test how fatal errors are surfaced.
  func raiseFatalErrorForTesting(_ code: KafkaError.Code, reason: String) {
    _ = rd_kafka_test_fatal_error(handle, rd_kafka_resp_err_t(rawValue: code.rawValue), reason)
  }
}
