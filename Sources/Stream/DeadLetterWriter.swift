import Observability

/// Writes records the pipeline could not use to the dead-letter topic, with headers naming
/// where they came from and why (`iak-source-topic`, `iak-source-partition`,
/// `iak-source-offset`, `iak-reason`), so nothing bad is dropped silently.
///
/// Delivered records are counted in `iak_dead_letters_total{reason}`; failed deliveries are
/// logged as errors and counted in `iak_dead_letters_failed_total{reason}`.
public final class DeadLetterWriter: Sendable {
  /// The dead-letter topic.
  public let topic: String
  private let producer: KafkaProducer
  private let logger: Logger
  private let written: MetricFamily?
  private let failed: MetricFamily?

  /// Writes to `topic` through `producer`.
  public init(
    producer: KafkaProducer, topic: String, logger: Logger = .disabled,
    metrics: MetricsRegistry? = nil
  ) {
    self.producer = producer
    self.topic = topic
    self.logger = logger
    self.written = metrics?.counter(
      "iak_dead_letters_total", help: "Records written to the dead-letter topic, by reason.",
      labels: ["reason"])
    self.failed = metrics?.counter(
      "iak_dead_letters_failed_total",
      help: "Records that could not be written to the dead-letter topic, by reason.",
      labels: ["reason"])
  }

  /// The record written for `record`: same key and bytes, its headers plus the `iak-*` ones.
  public func deadLetter(for record: Record, reason: String) -> OutgoingRecord {
    OutgoingRecord(
      topic: topic, key: record.key, value: record.value,
      headers: record.headers + [
        Record.Header(name: "iak-source-topic", text: record.topic),
        Record.Header(name: "iak-source-partition", text: String(record.partition)),
        Record.Header(name: "iak-source-offset", text: String(record.offset)),
        Record.Header(name: "iak-reason", text: reason),
      ], timestampMs: record.timestampMs)
  }

  /// Enqueues `record` with reason code `reason`; `onDelivery` hears the outcome.
  /// - Throws: `KafkaError` if it cannot be enqueued (then it is also logged and counted).
  public func write(
    _ record: Record, reason: String,
    onDelivery: @escaping KafkaProducer.DeliveryHandler = { _ in }
  ) throws(KafkaError) {
    let written = written?.with(reason)
    let failed = failed?.with(reason)
    let logger = logger
    let source = record.topicPartition.description
    let offset = String(record.offset)
    do {
      try producer.send(deadLetter(for: record, reason: reason)) { result in
        switch result {
        case .success: written?.increment()
        case .failure(let error):
          failed?.increment()
          logger.error(
            "dead letter not delivered",
            ["source": source, "offset": offset, "reason": reason, "error": error.description])
        }
        onDelivery(result)
      }
    } catch {
      failed?.increment()
      logger.error(
        "dead letter not enqueued",
        ["source": source, "offset": offset, "reason": reason, "error": error.description])
      throw error
    }
  }

  /// Writes `record` and waits for its delivery.
  /// - Throws: `KafkaError` if it was not delivered.
  public func write(_ record: Record, reason: String) async throws(KafkaError) -> Delivery {
    let result: Result<Delivery, KafkaError> = await withCheckedContinuation { continuation in
      do throws(KafkaError) {
        try write(record, reason: reason) { continuation.resume(returning: $0) }
      } catch {
        continuation.resume(returning: .failure(error))
      }
    }
    return try result.get()
  }
}
