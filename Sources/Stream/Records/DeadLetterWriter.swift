import Foundation
import Observability
import Synchronization

/// Writes records the pipeline could not use to the dead-letter topic, with headers naming
/// where they came from and why (`iak-source-topic`, `iak-source-partition`,
/// `iak-source-offset`, `iak-reason`), so nothing bad is dropped silently.
///
/// A value longer than `maxValueBytes` (a 10 MB event would exceed the producer's
/// `message.max.bytes` and fill a broker partition) is cut to that length and marked with
/// `iak-truncated-from: <original bytes>`; keys longer than `maxKeyBytes` likewise with
/// `iak-key-truncated-from`. Both are counted in `iak_dead_letters_truncated_total{reason}`.
///
/// Delivered records are counted in `iak_dead_letters_total{reason}`; failed deliveries are
/// logged as errors, counted in `iak_dead_letters_failed_total{reason}` and kept: `settle`
/// sends them again and throws while any is still undelivered, so the caller never commits
/// offsets past a dead letter that is not on the topic.
public final class DeadLetterWriter: Sendable {
  /// The longest value written by default: 256 KiB, well below librdkafka's default
  /// `message.max.bytes` (1,000,000) and the mock broker's ~5 MB per partition.
  public static let defaultMaxValueBytes = 262_144
  /// The longest key written by default.
  public static let defaultMaxKeyBytes = 16_384

  /// The dead-letter topic.
  public let topic: String
  /// Values longer than this are truncated (and marked).
  public let maxValueBytes: Int
  /// Keys longer than this are truncated (and marked).
  public let maxKeyBytes: Int
  private let producer: KafkaProducer
  private let logger: Logger
  private let written: MetricFamily?
  private let failed: MetricFamily?
  private let truncated: MetricFamily?
  private let pending = PendingDeadLetters()

  /// Writes to `topic` through `producer`, cutting values to `maxValueBytes` and keys to
  /// `maxKeyBytes` (each at least 1).
  public init(
    producer: KafkaProducer, topic: String, maxValueBytes: Int = defaultMaxValueBytes,
    maxKeyBytes: Int = defaultMaxKeyBytes, logger: Logger = .disabled,
    metrics: MetricsRegistry? = nil
  ) {
    self.producer = producer
    self.topic = topic
    self.maxValueBytes = max(maxValueBytes, 1)
    self.maxKeyBytes = max(maxKeyBytes, 1)
    self.logger = logger
    self.written = metrics?.counter(
      "iak_dead_letters_total", help: "Records written to the dead-letter topic, by reason.",
      labels: ["reason"])
    self.failed = metrics?.counter(
      "iak_dead_letters_failed_total",
      help: "Dead-letter deliveries that failed (kept and sent again by settle), by reason.",
      labels: ["reason"])
    self.truncated = metrics?.counter(
      "iak_dead_letters_truncated_total",
      help: "Dead letters whose value or key was cut to the size limit (marked by a header).",
      labels: ["reason"])
  }

  /// The record written for `record`: same key and bytes (cut to the limits, with a header
  /// saying so), its headers plus the `iak-*` ones.
  public func deadLetter(for record: Record, reason: String) -> OutgoingRecord {
    var headers =
      record.headers + [
        Record.Header(name: "iak-source-topic", text: record.topic),
        Record.Header(name: "iak-source-partition", text: String(record.partition)),
        Record.Header(name: "iak-source-offset", text: String(record.offset)),
        Record.Header(name: "iak-reason", text: reason),
      ]
    var value = record.value
    if value.count > maxValueBytes {
      headers.append(Record.Header(name: "iak-truncated-from", text: String(value.count)))
      value = Array(value.prefix(maxValueBytes))
    }
    var key = record.key
    if let original = key, original.count > maxKeyBytes {
      headers.append(Record.Header(name: "iak-key-truncated-from", text: String(original.count)))
      key = Array(original.prefix(maxKeyBytes))
    }
    return OutgoingRecord(
      topic: topic, key: key, value: value, headers: headers, timestampMs: record.timestampMs)
  }

  /// Enqueues `record` with reason code `reason`; `onDelivery` hears the outcome.
  /// - Throws: `KafkaError` if it cannot be enqueued (then it is also logged and counted).
  public func write(
    _ record: Record, reason: String,
    onDelivery: @escaping KafkaProducer.DeliveryHandler = { _ in }
  ) throws(KafkaError) {
    let letter = deadLetter(for: record, reason: reason)
    if letter.value.count < record.value.count || letter.key?.count != record.key?.count {
      truncated?.with(reason).increment()
      logger.warning(
        "dead letter cut to the size limit",
        [
          "source": record.topicPartition.description, "offset": String(record.offset),
          "reason": reason, "bytes": String(record.value.count),
          "kept": String(letter.value.count),
        ])
    }
    try send(
      letter, reason: reason, source: record.topicPartition.description,
      offset: String(record.offset), onDelivery: onDelivery)
  }

  private func send(
    _ letter: OutgoingRecord, reason: String, source: String, offset: String,
    onDelivery: @escaping KafkaProducer.DeliveryHandler
  ) throws(KafkaError) {
    let written = written?.with(reason)
    let failed = failed?.with(reason)
    let logger = logger
    let pending = pending
    pending.state.withLock { $0.inFlight += 1 }
    do {
      try producer.send(letter) { result in
        switch result {
        case .success:
          written?.increment()
          pending.state.withLock { $0.inFlight -= 1 }
        case .failure(let error):
          failed?.increment()
          logger.error(
            "dead letter not delivered (kept; settle sends it again)",
            ["source": source, "offset": offset, "reason": reason, "error": error.description])
          pending.state.withLock {
            $0.inFlight -= 1
            $0.undelivered.append((letter, reason))
          }
        }
        onDelivery(result)
      }
    } catch {
      pending.state.withLock { $0.inFlight -= 1 }
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

  /// Dead letters enqueued and not yet delivered, including failed ones waiting to be resent.
  public var undeliveredCount: Int {
    pending.state.withLock { $0.inFlight + $0.undelivered.count }
  }

  /// Waits until every dead letter written so far is delivered, sending failed ones again;
  /// call it before committing offsets (a snapshot must not cover a lost dead letter).
  ///
  /// - Throws: `KafkaError` (`.timedOut`) naming how many are still undelivered after
  ///   `timeout`; they stay kept for the next call.
  public func settle(timeout: Duration) throws(KafkaError) {
    let deadline = ContinuousClock.now + timeout
    while true {
      let retry = pending.state.withLock { state in
        defer { state.undelivered.removeAll() }
        return state.undelivered
      }
      for (index, (letter, reason)) in retry.enumerated() {
        do throws(KafkaError) {
          try send(
            letter, reason: reason, source: "retry", offset: "-", onDelivery: { _ in })
        } catch {
          pending.state.withLock { $0.undelivered.append(contentsOf: retry[index...]) }
          break
        }
      }
      if undeliveredCount == 0 { return }
      guard ContinuousClock.now < deadline else {
        throw KafkaError(
          code: .timedOut,
          message:
            "\(undeliveredCount) dead letters for \(topic) are still undelivered after "
            + "\(timeout); offsets must not be committed past them (they are kept and sent "
            + "again on the next settle)")
      }
      Thread.sleep(forTimeInterval: 0.005)
    }
  }
}

/// Dead letters handed to the producer and not yet reported, and those that failed; shared with
/// the delivery handlers, which run on the producer's polling thread.
private final class PendingDeadLetters: Sendable {
  struct State {
    var inFlight = 0
    var undelivered: [(record: OutgoingRecord, reason: String)] = []
  }
  let state = Mutex(State())
}
