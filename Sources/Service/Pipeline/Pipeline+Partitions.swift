import Checkpoint
import Foundation
import Learner
import Stream

/// Moving one input partition's state in and out of a pipeline, for scale-out: a `serve`
/// process hands a partition over to the next owner through the state topic.
///
/// A partition owns the domains whose first example came from it (`Trainer.lane(of:)`, the
/// partition's lane in `InputLanes`); with the input keyed by region, each domain's examples all
/// come from one partition, so a partition's state is independent of every other's and moving it
/// changes no kernel.
extension Pipeline {
  /// The tensor holding the counts per partition (`uint8`, JSON `[[topic, partition, records,
  /// rejected, examples, positives], ...]`). Optional when restoring.
  static let partitionCountsTensor = ".pipeline/partition_counts"

  /// sha256 of the settings that shape training (the `event`, `label`, `domain`, `backbone`
  /// but `backbone.dir`, `iak`, `train` and `drift` sections): instances of one group may keep
  /// their snapshots and metrics in different places, but must train alike.
  var trainingDigest: String {
    let sections = ["event.", "label.", "domain.", "backbone.", "iak.", "train.", "drift."]
    return digest(
      of: ConfigSchema.keys.filter { key in
        key.name != "backbone.dir" && sections.contains { key.name.hasPrefix($0) }
      })
  }

  /// The partitions whose state this pipeline holds (every partition it has read, unless
  /// released), sorted.
  public var heldPartitions: [KafkaPartition] { offsets.keys.sorted() }

  /// The domains `partition` owns here, sorted.
  public func domains(of partition: KafkaPartition) -> [String] {
    trainer.domains(ofLane: lanes.lane(of: partition))
  }

  /// The state of `partition`, or nil when this pipeline holds none.
  public func partitionState(of partition: KafkaPartition, createdAtMilliseconds: Int64)
    -> PartitionState?
  {
    guard let nextOffset = offsets[partition] else { return nil }
    let lane = lanes.lane(of: partition)
    let domains = trainer.domains(ofLane: lane)
    var tensors = trainer.stateTensors(ofLane: lane)
    tensors.merge(drift.stateTensors(ofDomains: domains)) { first, _ in first }
    let (joiner, router) = ingest.exportState(partition: lane, domains: Set(domains))
    tensors[".ingest/joiner"] = Tensor(uint8s: joiner, shape: [joiner.count])
    tensors[".ingest/router"] = Tensor(uint8s: router, shape: [router.count])
    tensors[".pipeline/counts"] = (partitionCounts[partition] ?? Counts()).tensor
    let owned = Set(domains)
    return PartitionState(
      partition: partition, nextOffset: nextOffset, tensors: tensors,
      kernelVersions: kernelVersions.filter { owned.contains($0.key) },
      publishedSteps: publishedSteps.filter { owned.contains($0.key) },
      deactivated: deactivated.intersection(owned), backboneSHA256: backboneSHA256,
      trainingDigest: trainingDigest, createdAtMilliseconds: createdAtMilliseconds,
      retiredVersions: retiredVersions.filter { $0.value.lane == lane },
      undelivered: undeliveredDomains.intersection(owned))
  }

  /// Where a checkpoint hands partition states over
  /// (`checkpoint(createdAtMilliseconds:handOver:)`).
  public struct HandOver {
    /// The partitions whose states may go (those this process owns: a lost one may already be
    /// another member's, whose newer state must not be overwritten).
    public var partitions: Set<KafkaPartition>
    /// Writes one partition's state; returns whether it is on the topic. A checkpoint hands
    /// the states over one at a time, so only one is built and encoded at once (~40 MB each at
    /// 2,000 domains on 4 partitions).
    public var write: (PartitionState) -> Bool
    /// Asks the consumer group whether this process still belongs to it
    /// (`RecordSource.confirmMembership(for:)`), after the local snapshot and before anything
    /// goes to a shared topic (partition states, kernels, deferred alerts); nil: not asked.
    /// A process paused past its session timeout may find, when it resumes, that its partitions
    /// are another member's: it must not write over that member's newer state.
    public var confirmMembership: (() throws -> Void)?
    /// With Kafka transactions (`checkpoint.transactions`): each owned partition's state, its
    /// domains' kernels and their alerts go in one transaction of the partition's own producer
    /// (`write` is then not used).
    public var transactional: Transactional?

    /// How a checkpoint writes inside a partition's transaction.
    public struct Transactional {
      /// Runs the body in one transaction of the partition's producer; commits when it returns.
      public var run: (KafkaPartition, (KafkaProducer) throws -> Void) throws -> Void
      /// Writes one partition state through the producer (inside `run`).
      public var writeState: (PartitionState, KafkaProducer) throws -> Void

      /// Creates the pair.
      public init(
        run: @escaping (KafkaPartition, (KafkaProducer) throws -> Void) throws -> Void,
        writeState: @escaping (PartitionState, KafkaProducer) throws -> Void
      ) {
        self.run = run
        self.writeState = writeState
      }
    }

    /// Hands the states of `partitions` to `write` (or, with `transactional`, to its
    /// transactions), once `confirmMembership` (if any) passed.
    public init(
      partitions: Set<KafkaPartition>, confirmMembership: (() throws -> Void)? = nil,
      transactional: Transactional? = nil, write: @escaping (PartitionState) -> Bool
    ) {
      self.partitions = partitions
      self.confirmMembership = confirmMembership
      self.transactional = transactional
      self.write = write
    }
  }

  /// The held partitions among `partitions` (all when nil) that moved on since they last went
  /// to the state topic (`markHandedOver(_:)`), sorted.
  public func changedPartitions(of partitions: Set<KafkaPartition>? = nil) -> [KafkaPartition] {
    heldPartitions.filter {
      handedOverOffsets[$0] != offsets[$0] && partitions?.contains($0) != false
    }
  }

  /// Notes that `state` is on the state topic.
  public func markHandedOver(_ state: PartitionState) {
    handedOverOffsets[state.partition] = state.nextOffset
  }

  /// Takes over a partition's state written by another process (or an earlier run), replacing
  /// what this pipeline held of that partition. Nothing changes when it throws.
  ///
  /// - Throws: `UsageError` when the state was trained on another backbone or configuration,
  ///   or is malformed.
  public func adopt(_ state: PartitionState) throws {
    guard state.backboneSHA256 == backboneSHA256 else {
      throw UsageError(
        "the state of \(state.partition) was trained on backbone \(state.backboneSHA256), "
          + "this process runs \(backboneSHA256): every instance must load the same backbone")
    }
    guard state.trainingDigest == trainingDigest else {
      throw UsageError(
        "the state of \(state.partition) was written with other event.*, label.*, domain.*, "
          + "backbone.*, iak.*, train.* or drift.* settings: every instance of a consumer group "
          + "must train with the same ones")
    }
    let tensors = state.tensors
    guard let joiner = tensors[".ingest/joiner"], let router = tensors[".ingest/router"],
      let countsTensor = tensors[".pipeline/counts"]
    else { throw UsageError("the state of \(state.partition) has no ingest state or counts") }
    let adoptedCounts = try Counts(
      tensor: countsTensor, source: "the state of \(state.partition)")
    // Everything that can fail is checked on copies before anything here changes.
    let joinerBytes = try joiner.uint8s()
    let routerBytes = try router.uint8s()
    var checkedDrift = DriftMonitor(settings: drift.settings)
    try checkedDrift.adopt(stateTensors: tensors)
    var checkedIngest = ingest
    try checkedIngest.adopt(joiner: joinerBytes, router: routerBytes)
    let checkedTrainer = try Trainer(
      backbone: backbone, kernelConfig: trainer.kernelConfig, config: trainer.config)
    try checkedTrainer.adoptLane(stateTensors: tensors)

    release(state.partition)
    let replaced = try trainer.adoptLane(stateTensors: tensors)
    if !replaced.isEmpty {
      logger.warning(
        "adopted domains that were also trained here from another partition; the input is not "
          + "keyed by region, so kernels depend on which process reads what",
        ["partition": state.partition.description, "domains": replaced.joined(separator: ",")])
    }
    try drift.adopt(stateTensors: tensors)
    try ingest.adopt(joiner: joinerBytes, router: routerBytes)
    partitionCounts[state.partition] = adoptedCounts
    counts.add(adoptedCounts)
    kernelVersions.merge(state.kernelVersions) { _, new in new }
    for (domain, entry) in state.retiredVersions where kernelVersions[domain] == nil {
      if entry.version > retiredVersions[domain]?.version ?? 0 { retiredVersions[domain] = entry }
    }
    publishedSteps.merge(state.publishedSteps) { _, new in new }
    deactivated.formUnion(state.deactivated)
    undeliveredDomains.formUnion(state.undelivered)
    offsets[state.partition] = state.nextOffset
    handedOverOffsets[state.partition] = state.nextOffset
  }

  /// Forgets everything held of `partition` (it moved to another process): its domains, joiner
  /// memory, clock, counts and offset, and every metric series of those domains (the new owner
  /// reports them; a drift alert must not fire from both). Kernels already published stay
  /// published.
  public func release(_ partition: KafkaPartition) {
    let lane = lanes.lane(of: partition)
    let domains = trainer.removeLane(lane)
    for domain in domains {
      metrics?.removeSeries(where: "domain", is: domain)
      silentDomains.remove(domain)
      drift.removeDomain(domain)
      kernelVersions[domain] = nil
      publishedSteps[domain] = nil
      undeliveredDomains.remove(domain)
      deactivated.remove(domain)
    }
    retiredVersions = retiredVersions.filter { $0.value.lane != lane }
    let released = Set(domains)
    deferredAlerts.removeAll { released.contains($0.event.domain) }
    ingest.release(partition: lane, domains: Set(domains))
    if let released = partitionCounts.removeValue(forKey: partition) {
      counts.add(released, sign: -1)
    }
    offsets[partition] = nil
    handedOverOffsets[partition] = nil
  }

  /// Makes `offset` the next offset to read of `partition`, keeping all state: its offsets went
  /// backwards (the topic was created again) and the records from `offset` on are new.
  func rewind(_ partition: KafkaPartition, to offset: Int64) {
    offsets[partition] = offset
    handedOverOffsets[partition] = nil
  }

  /// The counts per partition as a tensor (see `partitionCountsTensor`).
  func partitionCountsTensorValue() -> Tensor {
    let rows: [[Any]] = partitionCounts.keys.sorted().map { partition in
      let counts = partitionCounts[partition]!
      return [
        partition.topic, Int(partition.partition), counts.records, counts.rejected,
        counts.examples, counts.positives,
      ]
    }
    let data = (try? JSONSerialization.data(withJSONObject: rows)) ?? Data("[]".utf8)
    return Tensor(uint8s: Array(data), shape: [data.count])
  }

  /// Reads the counts per partition from a snapshot's tensors (empty when absent).
  ///
  /// - Throws: `UsageError` when the tensor is malformed.
  static func partitionCounts(in tensors: [String: Tensor]) throws -> [KafkaPartition: Counts] {
    guard let tensor = tensors[partitionCountsTensor] else { return [:] }
    guard let rows = try JSONSerialization.jsonObject(with: Data(try tensor.uint8s())) as? [[Any]]
    else { throw UsageError("snapshot: tensor \(partitionCountsTensor) is not a JSON list") }
    var result: [KafkaPartition: Counts] = [:]
    for row in rows {
      guard row.count == 6, let topic = row[0] as? String,
        let numbers = Array(row[1...]) as? [Int], let partition = Int32(exactly: numbers[0])
      else { throw UsageError("snapshot: tensor \(partitionCountsTensor) has a malformed row") }
      result[KafkaPartition(topic: topic, partition: partition)] = Counts(
        records: numbers[1], rejected: numbers[2], examples: numbers[3], positives: numbers[4])
    }
    return result
  }
}
