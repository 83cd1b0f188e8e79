import Base
import Observability
import Stream
import Synchronization

/// One transactional producer per owned input partition (`checkpoint.transactions`), through
/// which a checkpoint writes that partition's state, its domains' kernels and their alerts in
/// one Kafka transaction.
///
/// The producer's `transactional.id` is derived from the group, topic and partition, so the
/// member that gains a partition fences the one that had it: opening it (before the partition's
/// state is read) makes the transaction coordinator abort the old owner's open transaction and
/// refuse its later ones (PRODUCER_FENCED), even from a process paused past its session that
/// has not noticed yet. Readers of the state, kernels and alerts topics should read with
/// `isolation.level=read_committed` (librdkafka's default) to see committed transactions only.
final class PartitionTransactions: Sendable {
  private let configuration: KafkaConfiguration
  private let group: String
  private let logger: Logger
  private let timeout: Duration
  private let topics: [String]
  private let producers = Mutex<[TopicPartition: KafkaProducer]>([:])
  private let committed: Metric?
  private let aborted: Metric?

  /// Creates the set; producers are made by `open(_:)`. `topics` are those a transaction
  /// writes (the state topic and the output topics): each new producer looks them up first.
  init(
    configuration: KafkaConfiguration, group: String, logger: Logger, metrics: MetricsRegistry?,
    topics: [String] = [], timeout: Duration = .seconds(30)
  ) {
    self.configuration = configuration
    self.topics = topics
    self.group = group
    self.logger = logger
    self.timeout = timeout
    committed = metrics?.counter(
      "iak_transactions_committed_total",
      help: "Checkpoint transactions committed (one per partition with something to write)."
    ).with()
    aborted = metrics?.counter(
      "iak_transactions_aborted_total",
      help: "Checkpoint transactions not committed (fenced by a newer owner, or a failed "
        + "delivery); what they held is written again at the next checkpoint if still owned."
    ).with()
  }

  /// The `transactional.id` of `partition`'s producer.
  func transactionalID(of partition: TopicPartition) -> String {
    "iak-stream/\(group)/\(partition.topic)/\(partition.partition)"
  }

  /// Makes `partition`'s producer and registers it with the transaction coordinator, fencing
  /// every earlier producer of the partition; replaces one already open. It looks up the
  /// metadata of `topics` too: otherwise its first record to each topic would wait for
  /// librdkafka's next metadata round (about a second), inside a checkpoint's transaction.
  /// - Throws: `KafkaError` when the producer cannot be made or the coordinator refuses.
  func open(_ partition: TopicPartition) throws(KafkaError) {
    close(partition)
    var settings = configuration.setting("transactional.id", transactionalID(of: partition))
    if Self.lingers(configuration) == nil { settings.set("linger.ms", "0") }
    let producer = try KafkaProducer.make(configuration: settings, logger: logger)
    do {
      try producer.initTransactions(timeout: timeout)
    } catch {
      try? producer.close(timeout: .seconds(1))
      throw error
    }
    do {
      try producer.prepare(topics: topics)
    } catch {
      logger.warning(
        "could not look up the topics of a partition's transactions; its first checkpoint "
          + "waits for their metadata",
        ["partition": partition.description, "error": error.description])
    }
    producers.withLock { $0[partition] = producer }
  }

  /// The linger the configuration sets (`linger.ms` or its alias), if any. Unset, a
  /// transaction's producer sends at once (`linger.ms = 0`): a checkpoint waits for each wave of
  /// its records (chunks, heads, kernels) to be delivered before the next, so librdkafka's
  /// default 5 ms of batching would only add to every wave.
  static func lingers(_ configuration: KafkaConfiguration) -> String? {
    configuration.value(for: "linger.ms") ?? configuration.value(for: "queue.buffering.max.ms")
  }

  /// Closes `partition`'s producer, if any.
  func close(_ partition: TopicPartition) {
    let producer = producers.withLock { $0.removeValue(forKey: partition) }
    try? producer?.close(timeout: .seconds(5))
  }

  /// Closes every producer.
  func closeAll() {
    let all = producers.withLock { producers in
      defer { producers.removeAll() }
      return Array(producers.values)
    }
    for producer in all { try? producer.close(timeout: .seconds(5)) }
  }

  /// Runs `body` inside one transaction of `partition`'s producer (opened now if it is not):
  /// commits when `body` returns, aborts when it throws. A producer whose transaction was aborted
  /// or that was fenced, or can no longer be used, is closed (the next call opens a new one,
  /// which fences in turn if this process still owns the partition).
  /// - Throws: what `body` threw, or `KafkaError` when the transaction could not be begun or
  ///   committed; nothing of it is then visible to `read_committed` readers.
  func run(_ partition: TopicPartition, _ body: (KafkaProducer) throws -> Void) throws {
    let existing = producers.withLock { $0[partition] }
    if existing == nil { try open(partition) }
    guard let producer = producers.withLock({ $0[partition] }) else {
      throw KafkaError(code: .state, message: "no transactional producer for \(partition)")
    }
    do {
      try producer.beginTransaction()
    } catch {
      discard(partition, producer, after: "\(error)")
      throw error
    }
    do {
      try body(producer)
    } catch {
      abort(partition, producer, after: "\(error)")
      throw error
    }
    do {
      try producer.commitTransaction(timeout: timeout)
      committed?.increment()
    } catch {
      if error.requiresAbort && !error.error.isFatal {
        abort(partition, producer, after: error.description)
      } else {
        aborted?.increment()
        discard(partition, producer, after: "\(error.error)")
      }
      throw error
    }
  }

  /// Aborts the open transaction, then closes the producer: the next run opens a new one, with a
  /// new epoch. librdkafka 2.0.2 kept after an abort that followed a refused delivery fails the
  /// producer's next transaction once more (OUT_OF_ORDER_SEQUENCE_NUMBER, "requires epoch
  /// bump"), which cost one more failed checkpoint, at shutdown the final one (a CI run of the
  /// request-errors chaos scenario).
  private func abort(_ partition: TopicPartition, _ producer: KafkaProducer, after why: String) {
    aborted?.increment()
    do {
      try producer.abortTransaction(timeout: timeout)
      logger.warning(
        "checkpoint transaction aborted", ["partition": partition.description, "error": why])
      discard(partition, producer, after: why)
    } catch {
      discard(partition, producer, after: "\(error)")
    }
  }

  private func discard(_ partition: TopicPartition, _ producer: KafkaProducer, after why: String) {
    logger.warning(
      "transactional producer closed; the next checkpoint opens a new one (a member that took "
        + "the partition over has fenced this one if the error says so)",
      ["partition": partition.description, "error": why])
    producers.withLock { producers in
      if producers[partition] === producer { producers[partition] = nil }
    }
    try? producer.close(timeout: .seconds(1))
  }
}
