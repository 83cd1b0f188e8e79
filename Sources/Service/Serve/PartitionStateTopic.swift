import Base
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
  /// The per-partition transactional producers (`checkpoint.transactions`), or nil to write
  /// with the shared producer.
  let transactions: PartitionTransactions?
  private let producer: KafkaProducer
  private let configuration: KafkaConfiguration
  private let partitionCount: Int
  private let logger: Logger
  private let written: Metric?
  private let writtenBytes: Metric?
  private let adopted: Metric?
  private let failures: Metric?
  private let unreadable: Metric?
  /// Largest value one record carries: `kafka.message.max.bytes` less room for the key,
  /// headers and framing. A larger state goes in chunks.
  let chunkBytes: Int
  /// Per partition, the chunk keys on the topic this process knows of (from its last write, or
  /// found when it read the partition): the next write of the partition deletes them.
  private let chunkKeys = Mutex<[TopicPartition: [[UInt8]]]>([:])

  /// Looks up the topic's partition count. With `transactional`, the partitions' transactions
  /// write `outputTopics` too: each transactional producer looks them up when it is made.
  ///
  /// - Throws: `KafkaError` when the topic does not exist or the cluster does not answer.
  init(
    topic: String, group: String, producer: KafkaProducer, configuration: KafkaConfiguration,
    logger: Logger,
    metrics: MetricsRegistry?, timeout: Duration = .seconds(10), chunkBytes: Int? = nil,
    transactional: Bool = false, outputTopics: [String] = []
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
    self.transactions =
      transactional
      ? PartitionTransactions(
        configuration: configuration, group: group, logger: logger, metrics: metrics,
        topics: [topic] + outputTopics) : nil
    self.producer = producer
    self.configuration = configuration
    self.logger = logger
    let limit = producer.effectiveSetting("message.max.bytes").flatMap { Int($0) } ?? 1_000_000
    self.chunkBytes = max(1, chunkBytes ?? (limit - 65_536))
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
      help: "Partition state writes to the state topic that failed (a checkpoint writes each "
        + "changed partition's state on its own)."
    ).with()
    unreadable = metrics?.counter(
      "iak_partition_states_unreadable_total",
      help: "Partition states on the state topic that were read but could not be used (a chunk "
        + "missing, a garbled record); the partition went on from the local state."
    ).with()
    adopted = metrics?.counter(
      "iak_partition_states_adopted_total",
      help: "Partitions whose state was taken over from the state topic on assignment."
    ).with()
  }

  /// The key of `partition`'s state: `<group>/<topic>/<partition>`.
  func key(of partition: TopicPartition) -> [UInt8] {
    Array("\(group)/\(partition.topic)/\(partition.partition)".utf8)
  }

  /// The state-topic partition holding `partition`'s state.
  func statePartition(of partition: TopicPartition) -> Int32 {
    Int32(Int(partition.partition) % max(1, partitionCount))
  }

  /// Writes `states` and waits for every delivery. A state larger than `chunkBytes` goes in
  /// chunks (`PartitionStateChunks`): its chunks first, then its head once they are delivered,
  /// then tombstones for the chunks of the partition's previous write.
  ///
  /// - Throws: `WriteFailure` naming the partitions whose state was not delivered (the caller
  ///   writes them again at its next checkpoint).
  func write(
    _ states: [PartitionState], timeout: Duration = .seconds(30),
    via transaction: KafkaProducer? = nil
  ) throws(WriteFailure) {
    // Each state is encoded only when the previous one was sent.
    try write(
      encoded: states.lazy.map(EncodedPartitionState.init), timeout: timeout, via: transaction)
  }

  /// `write(_:timeout:via:)` of states encoded already, taken one at a time from `states` (a
  /// lazy sequence encodes each only once the previous one's chunks were sent).
  func write<States: Sequence<EncodedPartitionState>>(
    encoded states: States, timeout: Duration = .seconds(30),
    via transaction: KafkaProducer? = nil
  ) throws(WriteFailure) {
    let producer = transaction ?? self.producer
    let deadline = ContinuousClock.now + timeout
    var heads: [Outgoing] = []
    // Each chunk is sent as soon as it is cut (librdkafka copies a record when it is sent), so a
    // state's chunks are not all held beside its bytes: with 2,000 domains they had doubled the
    // checkpoint's memory (heaptrack on `bench soak`). A state small enough to go whole is held
    // until its head goes, after every chunk; the checkpoints write one state a call.
    let chunks = DeliveryRound()
    var chunkCount = 0
    var newChunkKeys: [TopicPartition: [[UInt8]]] = [:]
    var bytes = 0
    var partitions: [TopicPartition] = []
    for state in states {
      let value = state.bytes
      partitions.append(state.partition)
      bytes += value.count
      let base = key(of: state.partition)
      var head = OutgoingRecord(
        topic: topic, partition: statePartition(of: state.partition), key: base, value: value,
        headers: [Record.Header(name: "iak-next-offset", text: String(state.nextOffset))],
        timestampMs: state.createdAtMilliseconds)
      newChunkKeys[state.partition] = []
      if value.count > chunkBytes {
        let cut = PartitionStateChunks(
          of: value, chunkBytes: chunkBytes,
          generation: "\(state.createdAtMilliseconds)-\(UInt32.random(in: .min ... .max))")
        for index in 0..<cut.count {
          // Its head will not go: the rest of its chunks would only be deleted again.
          if chunks.hasFailed(state.partition) { break }
          var chunk = head
          chunk.key = cut.key(ofChunk: index, base: base)
          chunk.value = cut.chunk(index, of: value)
          chunk.headers = [Record.Header(name: "iak-chunk", text: "\(index + 1)/\(cut.count)")]
          newChunkKeys[state.partition]!.append(chunk.key!)
          chunks.send(Outgoing(partition: state.partition, record: chunk), through: producer)
          chunkCount += 1
        }
        head.value = cut.head
      }
      heads.append(Outgoing(partition: state.partition, record: head))
    }
    guard !partitions.isEmpty else { return }
    // A head goes only once all its chunks are on the topic.
    var failed = chunks.wait(until: deadline)
    failed.merge(
      deliver(heads.filter { failed[$0.partition] == nil }, through: producer, until: deadline)
    ) { $1 }
    deleteObsoleteChunks(
      of: partitions.filter { failed[$0] == nil }, keeping: newChunkKeys,
      through: producer, until: deadline)
    guard failed.isEmpty else {
      self.failures?.increment()
      throw WriteFailure(topic: topic, failed: failed)
    }
    written?.increment(by: Double(partitions.count))
    writtenBytes?.increment(by: Double(bytes))
    logger.debug(
      "partition states written",
      [
        "count": "\(partitions.count)", "bytes": "\(bytes)", "chunks": "\(chunkCount)",
        "topic": topic,
      ])
  }

  /// A record to send for a partition.
  private struct Outgoing {
    var partition: TopicPartition
    var record: OutgoingRecord
  }

  /// Sends `records` and waits for their deliveries until `deadline`; returns the first failure
  /// of each partition that had one (`DeliveryRound`).
  private func deliver(
    _ records: [Outgoing], through producer: KafkaProducer, until deadline: ContinuousClock.Instant
  ) -> [TopicPartition: String] {
    let round = DeliveryRound()
    for outgoing in records { round.send(outgoing, through: producer) }
    return round.wait(until: deadline)
  }

  /// Records sent one by one and then waited for together. Only each record's partition and
  /// size are kept until it is answered, not its value: the caller may let the value go once it
  /// was sent. At the deadline, a partition with a record not yet confirmed fails; one whose
  /// records were all confirmed does not.
  private final class DeliveryRound: Sendable {
    private typealias Progress = (failed: [TopicPartition: String], waiting: [TopicPartition: Int])
    // The first failure of each partition, and its records not yet answered.
    private let progress = Mutex<Progress>(([:], [:]))
    private let group = DispatchGroup()

    /// Sends `outgoing`; a refusal counts as its answer.
    func send(_ outgoing: Outgoing, through producer: KafkaProducer) {
      let partition = outgoing.partition
      let size = outgoing.record.value.count
      group.enter()
      progress.withLock { $0.waiting[partition, default: 0] += 1 }
      do {
        try producer.send(outgoing.record) { [self] in answered(partition, size: size, $0) }
      } catch {
        answered(partition, size: size, .failure(error))
      }
    }

    /// Whether a record of `partition` was refused or failed so far.
    func hasFailed(_ partition: TopicPartition) -> Bool {
      progress.withLock { $0.failed[partition] != nil }
    }

    /// Waits for every record sent until `deadline`; the first failure of each partition.
    func wait(until deadline: ContinuousClock.Instant) -> [TopicPartition: String] {
      let left = max(0, (deadline - ContinuousClock.now).inSeconds)
      let timedOut = group.wait(timeout: .now() + left) == .timedOut
      return progress.withLock { progress in
        var failed = progress.failed
        if timedOut {
          for (partition, waiting) in progress.waiting
          where waiting > 0 && failed[partition] == nil {
            failed[partition] = "delivery not confirmed in time"
          }
        }
        return failed
      }
    }

    // Refused when enqueued, or answered by the broker.
    private func answered(
      _ partition: TopicPartition, size: Int, _ result: Result<Delivery, KafkaError>
    ) {
      progress.withLock {
        $0.waiting[partition, default: 0] -= 1
        guard case .failure(let error) = result, $0.failed[partition] == nil else { return }
        let hint =
          error.code == .messageSizeTooLarge
          ? " (\(size) bytes; kafka.message.max.bytes sets the chunk size and must fit the "
            + "broker's and the topic's limit)" : ""
        $0.failed[partition] = "\(error)\(hint)"
      }
      group.leave()
    }
  }

  /// Tombstones the chunks this process knows of for `partitions` that are not in `keeping`
  /// (their new write's), and remembers the new ones. A tombstone that is not delivered is kept
  /// to be tried again at the next write: chunks left behind cost space, never correctness.
  private func deleteObsoleteChunks(
    of partitions: [TopicPartition], keeping: [TopicPartition: [[UInt8]]],
    through producer: KafkaProducer, until deadline: ContinuousClock.Instant
  ) {
    var tombstones: [Outgoing] = []
    for partition in partitions {
      let kept = Set(keeping[partition] ?? [])
      let obsolete = chunkKeys.withLock { known in
        let old = (known[partition] ?? []).filter { !kept.contains($0) }
        known[partition] = keeping[partition] ?? []
        return old
      }
      tombstones += obsolete.map {
        Outgoing(
          partition: partition,
          record: OutgoingRecord(
            topic: topic, partition: statePartition(of: partition), key: $0, value: []))
      }
    }
    let failed = deliver(tombstones, through: producer, until: deadline)
    guard !failed.isEmpty else { return }
    chunkKeys.withLock { known in
      for tombstone in tombstones where failed[tombstone.partition] != nil {
        known[tombstone.partition, default: []].append(tombstone.record.key!)
      }
    }
    logger.warning(
      "chunks of earlier partition states not deleted from the state topic; tried again at the "
        + "next write",
      ["partitions": failed.keys.map(\.description).sorted().joined(separator: ",")])
  }

  /// The newest state of `partition` on the topic, or nil when it has none. Remembers the
  /// partition's chunk keys on the topic, for the next write to delete.
  ///
  /// - Throws: `KafkaError` when the topic cannot be read, `ServiceError`: `stateUnreadable`
  ///   when the newest record is not a partition state or names chunks that are missing or do
  ///   not match, `stateMismatch` when it is the state of another partition.
  func newestState(of partition: TopicPartition) throws -> PartitionState? {
    let records = try KafkaTopicReader.readAll(
      topic, partitions: [statePartition(of: partition)], configuration: configuration,
      logger: logger)
    let latest = KafkaTopicReader.latestByKey(records)
    let base = key(of: partition)
    let prefix = PartitionStateChunks.chunkPrefix(of: base)
    let onTopic = latest.keys.filter { $0.starts(with: prefix) }
    chunkKeys.withLock { known in
      known[partition] = Array(Set(known[partition] ?? []).union(onTopic))
    }
    guard let record = latest[base] else { return nil }
    let state: PartitionState
    do {
      var bytes = record.value
      if let chunks = try PartitionStateChunks(head: record.value) {
        bytes = try chunks.assemble(base: base, from: latest)
      }
      state = try PartitionState(bytes: bytes)
    } catch let error as ServiceError {
      throw error
    } catch {
      throw ServiceError(
        .stateUnreadable,
        "the state of \(partition) on \(topic) is not a partition state: \(error)")
    }
    guard state.partition == partition else {
      throw ServiceError(
        .stateMismatch,
        "the state topic \(topic) holds, under the key of \(partition), the state of "
          + "\(state.partition)")
    }
    return state
  }

  /// Why partition states were not written.
  struct WriteFailure: Error, CustomStringConvertible {
    /// The state topic.
    let topic: String
    /// The partitions whose state was not written, with the first reason of each (the others
    /// of the write are on the topic).
    let failed: [TopicPartition: String]

    var description: String {
      "partition state not written to \(topic): "
        + failed.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }
        .joined(separator: "; ")
    }
  }

  /// Counts a partition taken over from the topic.
  func noteAdopted() { adopted?.increment() }

  /// Counts a partition whose state on the topic could be read but not used.
  func noteUnreadable() { unreadable?.increment() }
}
