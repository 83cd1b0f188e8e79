import Base
import Foundation
import Observability
import Synchronization

/// Sends a JSON-lines file to a topic for `iak-stream produce`, each event keyed (by its region, so
/// a domain's events stay in one partition, in order), paced, with delivery checked.
public enum EventProducer {
  /// How fast events are sent.
  public enum Pace: Sendable, Equatable {
    /// As fast as the producer accepts them.
    case unlimited
    /// This many events per second.
    case rate(Double)
    /// Event time replayed this many times faster than it happened (needs `eventTimeMs`).
    case speedup(Double)
  }

  /// Which time each record's Kafka timestamp carries.
  public enum Timestamp: String, Sendable, Equatable, CaseIterable {
    /// The time it is sent (the producer's clock): time-based retention counts from now, so
    /// replaying old events into a real cluster does not delete them at once.
    case send
    /// The event's own time (the payload's `ts`); a broker with time-based retention deletes
    /// records whose event time is older than the retention at once.
    case event
  }

  /// What to send and how.
  public struct Options: Sendable {
    /// The JSON-lines input.
    public var input: URL
    /// The destination topic.
    public var topic: String
    /// How fast to send.
    public var pace: Pace
    /// The time each record's Kafka timestamp carries (the payload keeps the event time).
    public var timestamp: Timestamp
    /// Producer configuration (bootstrap servers and pass-through pairs).
    public var configuration: KafkaConfiguration
    /// Report progress every this many lines.
    public var progressEvery: Int
    /// How long to wait for outstanding deliveries at the end.
    public var flushTimeout: Duration

    /// Describes a produce run.
    public init(
      input: URL, topic: String, pace: Pace = .unlimited, timestamp: Timestamp = .send,
      configuration: KafkaConfiguration, progressEvery: Int = 10_000,
      flushTimeout: Duration = .seconds(30)
    ) {
      self.input = input
      self.topic = topic
      self.pace = pace
      self.timestamp = timestamp
      self.configuration = configuration
      self.progressEvery = progressEvery
      self.flushTimeout = flushTimeout
    }
  }

  /// Counts so far (or at the end).
  public struct Progress: Sendable, Equatable {
    /// Non-empty lines in the input (what will have been sent at the end).
    public var total: Int
    /// Non-empty lines read and handed to the producer.
    public var sent: Int
    /// Records whose delivery succeeded.
    public var delivered: Int
    /// Records that could not be enqueued or delivered.
    public var failed: Int
    /// Delivered records that the broker no longer held when the run ended: the partition's
    /// log start offset had moved past them (retention by size, as on the development broker
    /// that keeps about 5 MB per partition). Counted at the end only.
    public var notRetained: [TopicPartition: Int]
    /// Whether every line sent was delivered.
    public var isComplete: Bool { failed == 0 && delivered == sent }

    /// Makes a count.
    public init(
      total: Int, sent: Int, delivered: Int, failed: Int, notRetained: [TopicPartition: Int] = [:]
    ) {
      self.total = total
      self.sent = sent
      self.delivered = delivered
      self.failed = failed
      self.notRetained = notRetained
    }
  }

  /// Keys a line: the key's text, or nil for no key.
  public typealias KeyExtractor = @Sendable (_ line: [UInt8]) -> String?
  /// The event time of a line in milliseconds since the epoch, or nil if it has none.
  public typealias EventTimeExtractor = @Sendable (_ line: [UInt8]) -> Int64?

  /// A key extractor that takes field `field` of each line (see `JSONLineField`).
  public static func key(byField field: String) -> KeyExtractor {
    { line in JSONLineField.value(named: field, in: line) }
  }

  /// Sends every non-empty line of the input and waits for the deliveries.
  ///
  /// The returned counts say what happened; the CLI exits non-zero unless `isComplete`.
  /// Failures are logged (the first few in detail) and never stop the run unless fatal.
  /// - Throws: `KafkaError` if the input cannot be read or the producer cannot be created.
  public static func run(
    _ options: Options, key: @escaping KeyExtractor, eventTimeMs: EventTimeExtractor? = nil,
    logger: Logger = .disabled, metrics: MetricsRegistry? = nil,
    progress: (Progress) -> Void = { _ in }
  ) throws(KafkaError) -> Progress {
    let data: Data
    do {
      data = try Data(contentsOf: options.input)
    } catch {
      throw KafkaError(
        code: .invalidInput,
        message: "cannot read \(options.input.path): \(error.localizedDescription)")
    }
    if case .speedup = options.pace, eventTimeMs == nil {
      throw KafkaError(
        code: .invalidInput, message: "--speedup needs the events' time; use --rate instead")
    }
    let producer = try KafkaProducer.make(
      configuration: options.configuration, logger: logger, metrics: metrics)
    let lines = data.split(separator: UInt8(ascii: "\n")).filter {
      !$0.allSatisfy { $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\r") }
    }
    let counts = Counts(total: lines.count)
    let pacer = Pacer(pace: options.pace)
    var sent = 0
    progress(counts.progress(sent: 0))  // the total is known: a progress display starts now
    for slice in lines {
      let line = Array(slice)
      let time = eventTimeMs?(line)
      pacer.wait(index: sent, eventTimeMs: time)
      sent += 1
      let record = OutgoingRecord(
        topic: options.topic, key: key(line).map { Array($0.utf8) }, value: line,
        timestampMs: options.timestamp == .event ? time : nil)
      do {
        try producer.send(record) { result in counts.record(result, logger: logger) }
      } catch {
        counts.record(.failure(error), logger: logger)
        if error.isFatal { break }
      }
      if options.progressEvery > 0 && sent % options.progressEvery == 0 {
        progress(counts.progress(sent: sent))
      }
    }
    do {
      try producer.flush(timeout: options.flushTimeout)
    } catch {
      logger.error(
        "some records were not delivered before the timeout", ["error": error.description])
    }
    let notRetained = counts.notRetained { partition in
      try? producer.watermarks(of: partition, timeout: .seconds(5)).low
    }
    try? producer.close(timeout: .seconds(1))
    var final = counts.progress(sent: sent)
    final.notRetained = notRetained
    progress(final)
    return final
  }
}

/// Delivery counts updated from the producer's thread.
private final class Counts: Sendable {
  private struct State {
    var delivered = 0
    var failed = 0
    /// The offsets written, by partition: to tell at the end which are still retained.
    var offsets: [TopicPartition: [Int64]] = [:]
  }

  private let total: Int
  private let state = Mutex(State())

  init(total: Int) { self.total = total }

  func record(_ result: Result<Delivery, KafkaError>, logger: Logger) {
    let failures: Int? = state.withLock { state in
      switch result {
      case .success(let delivery):
        state.delivered += 1
        state.offsets[delivery.topicPartition, default: []].append(delivery.offset)
        return nil
      case .failure:
        state.failed += 1
        return state.failed
      }
    }
    if let failures, failures <= 10, case .failure(let error) = result {
      logger.error(
        failures == 10
          ? "record not delivered (further failures only counted)"
          : "record not delivered", ["error": error.description])
    }
  }

  func progress(sent: Int) -> EventProducer.Progress {
    state.withLock {
      .init(total: total, sent: sent, delivered: $0.delivered, failed: $0.failed)
    }
  }

  /// How many written records of each partition lie below its log start offset now
  /// (`logStart` answers nil when it cannot be asked; such a partition is not counted).
  func notRetained(logStart: (TopicPartition) -> Int64?) -> [TopicPartition: Int] {
    let offsets = state.withLock { $0.offsets }
    var result: [TopicPartition: Int] = [:]
    for (partition, written) in offsets {
      guard let start = logStart(partition) else { continue }
      let lost = written.count { $0 < start }
      if lost > 0 { result[partition] = lost }
    }
    return result
  }
}

/// Sleeps so that events leave at the requested pace.
private final class Pacer {
  private let pace: EventProducer.Pace
  private let start = ContinuousClock.now
  private var firstEventTimeMs: Int64?

  init(pace: EventProducer.Pace) { self.pace = pace }

  func wait(index: Int, eventTimeMs: Int64?) {
    let due: ContinuousClock.Instant
    switch pace {
    case .unlimited:
      return
    case .rate(let perSecond):
      guard perSecond > 0 else { return }
      due = start + .seconds(Double(index) / perSecond)
    case .speedup(let factor):
      guard factor > 0, let eventTimeMs else { return }
      let first = firstEventTimeMs ?? eventTimeMs
      firstEventTimeMs = first
      due = start + .milliseconds(Double(max(eventTimeMs - first, 0)) / factor)
    }
    let remaining = due - ContinuousClock.now
    if remaining > .milliseconds(1) {
      Thread.sleep(forTimeInterval: remaining.inSeconds)
    }
  }
}
