import Dispatch
import Observability
import Stream
import Synchronization

/// The compacted state topic (`checkpoint.state_topic`) through which `serve` processes of one
/// consumer group hand partitions to each other: every checkpoint writes the state of each
/// owned partition that moved on, keyed `<group>/<topic>/<partition>` (several pipelines may
/// share one state topic), after the local snapshot and before kernels are published and offsets
/// committed; a process that gains a partition reads its newest state back.
///
/// Input partition `p` goes to state-topic partition `p mod n` (n: the state topic's partition
/// count), so reading one partition's state scans one partition of the state topic.
final class PartitionStateTopic: Sendable {
  /// The topic's name.
  let topic: String
  /// The consumer group whose partitions' states this process writes and reads.
  let group: String
  private let producer: KafkaProducer
  private let configuration: KafkaConfiguration
  private let partitionCount: Int
  private let logger: Logger
  private let written: Metric?
  private let writtenBytes: Metric?
  private let adopted: Metric?
  private let failures: Metric?

  /// Looks up the topic's partition count.
  ///
  /// - Throws: `KafkaError` when the topic does not exist or the cluster does not answer.
  init(
    topic: String, group: String, producer: KafkaProducer, configuration: KafkaConfiguration,
    logger: Logger,
    metrics: MetricsRegistry?, timeout: Duration = .seconds(10)
  ) throws {
    let consumer = try KafkaConsumer.make(configuration: configuration, logger: logger)
    defer { consumer.close() }
    do {
      partitionCount = try consumer.partitionCount(of: topic, timeout: timeout)
    } catch {
      throw KafkaError(
        code: error.code,
        message:
          "the state topic \(topic) (checkpoint.state_topic) cannot be used: \(error); create "
          + "it (compacted) or set checkpoint.state_topic empty to run a single instance")
    }
    self.topic = topic
    self.group = group
    self.producer = producer
    self.configuration = configuration
    self.logger = logger
    written = metrics?.counter(
      "iak_partition_states_written_total",
      help: "Partition states written to the state topic (checkpoint.state_topic)."
    ).with()
    writtenBytes = metrics?.counter(
      "iak_partition_state_bytes_total",
      help: "Bytes of partition state written to the state topic."
    ).with()
    failures = metrics?.counter(
      "iak_partition_state_failures_total",
      help: "Checkpoints whose partition states could not be written to the state topic."
    ).with()
    adopted = metrics?.counter(
      "iak_partition_states_adopted_total",
      help: "Partitions whose state was taken over from the state topic on assignment."
    ).with()
  }

  /// The key of `partition`'s state: `<group>/<topic>/<partition>`.
  func key(of partition: KafkaPartition) -> [UInt8] {
    Array("\(group)/\(partition.topic)/\(partition.partition)".utf8)
  }

  /// The state-topic partition holding `partition`'s state.
  func statePartition(of partition: KafkaPartition) -> Int32 {
    Int32(Int(partition.partition) % max(1, partitionCount))
  }

  /// Writes `states` and waits for every delivery.
  ///
  /// - Throws: `WriteFailure` naming the partitions whose state was not delivered (the
  ///   caller's checkpoint then fails and is retried; nothing is committed).
  func write(_ states: [PartitionState], timeout: Duration = .seconds(30)) throws {
    guard !states.isEmpty else { return }
    let failed = Mutex<[String]>([])
    let group = DispatchGroup()
    var bytes = 0
    for state in states {
      let value = state.encoded()
      bytes += value.count
      group.enter()
      do {
        try producer.send(
          OutgoingRecord(
            topic: topic, partition: statePartition(of: state.partition),
            key: key(of: state.partition), value: value,
            headers: [Record.Header(name: "iak-next-offset", text: String(state.nextOffset))],
            timestampMs: state.createdAtMilliseconds)
        ) { result in
          if case .failure(let error) = result {
            failed.withLock { $0.append("\(state.partition): \(error)") }
          }
          group.leave()
        }
      } catch {
        failed.withLock { $0.append("\(state.partition): \(error) (\(value.count) bytes)") }
        group.leave()
      }
    }
    if group.wait(timeout: .now() + timeout.inSeconds) == .timedOut {
      failed.withLock { $0.append("delivery timed out after \(timeout)") }
    }
    let failures = failed.withLock { $0 }
    guard failures.isEmpty else {
      self.failures?.increment()
      throw WriteFailure(
        description: "partition state not written to \(topic): "
          + failures.joined(separator: "; ")
          + " (a state larger than kafka.message.max.bytes needs that setting raised)")
    }
    written?.increment(by: Double(states.count))
    writtenBytes?.increment(by: Double(bytes))
    logger.debug(
      "partition states written",
      ["count": "\(states.count)", "bytes": "\(bytes)", "topic": topic])
  }

  /// The newest state of `partition` on the topic, or nil when it has none.
  ///
  /// - Throws: `KafkaError` when the topic cannot be read, `UsageError` when the newest record
  ///   is not a partition state.
  func newestState(of partition: KafkaPartition) throws -> PartitionState? {
    let records = try KafkaTopicReader.readAll(
      topic, partitions: [statePartition(of: partition)], configuration: configuration,
      logger: logger)
    guard let record = KafkaTopicReader.latestByKey(records)[key(of: partition)] else {
      return nil
    }
    let state = try PartitionState(bytes: record.value)
    guard state.partition == partition else {
      throw UsageError(
        "the state topic \(topic) holds, under the key of \(partition), the state of "
          + "\(state.partition)")
    }
    return state
  }

  /// Why partition states were not written.
  struct WriteFailure: Error, CustomStringConvertible {
    /// The partitions and reasons.
    let description: String
  }

  /// Counts a partition taken over from the topic.
  func noteAdopted() { adopted?.increment() }
}
