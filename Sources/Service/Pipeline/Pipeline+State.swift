import Base
import Checkpoint
import Foundation
import Learner
import Stream

/// The pipeline's state in and out: one layout of named tensors for a whole snapshot and for
/// one partition's state, and one reading of it for `restore` (a snapshot replaces everything)
/// and `adopt` (a partition's state replaces that partition's share).
///
/// A partition owns the domains whose first example came from it (`Trainer.lane(of:)`, the
/// partition's lane in `InputLanes`); with the input keyed by region, each domain's examples all
/// come from one partition, so a partition's state is independent of every other's and moving it
/// changes no kernel.
extension Pipeline {
  /// The joiner's state tensor.
  static let joinerTensor = ".ingest/joiner"
  /// The router's state tensor.
  static let routerTensor = ".ingest/router"

  /// Every piece of state as named tensors: the trainer's (kernels, batches, meters), the drift
  /// monitor's, the joiner's, the router's and the counts.
  public func stateTensors() -> [String: Tensor] { stateTensors(of: nil) }

  /// The state tensors of every held partition (nil), or of `partition` alone: its domains,
  /// its joiner memory and clock, and its counts. With `snapshot` (the tensors of
  /// `stateTensors()` taken just before, nothing changed since), a partition's domains' tensors
  /// are taken out of it rather than built again.
  func stateTensors(of partition: TopicPartition?, taking snapshot: SnapshotTensors? = nil)
    -> [String: Tensor]
  {
    var tensors: [String: Tensor]
    let joiner: [UInt8]
    let router: [UInt8]
    if let partition {
      let lane = lanes.lane(of: partition)
      let domains = trainer.domains(ofLane: lane)
      if let snapshot {
        tensors = trainer.wideTensors(ofLane: lane)
        snapshot.take(domains, into: &tensors)
      } else {
        tensors = trainer.stateTensors(ofLane: lane)
        tensors.merge(drift.stateTensors(ofDomains: domains)) { first, _ in first }
      }
      (joiner, router) = ingest.exportState(
        partition: lane, domains: Set(domains), joinerBlocks: checkpointJoinerBlocks ?? [:])
    } else {
      tensors = trainer.stateTensors()
      tensors.merge(drift.stateTensors()) { first, _ in first }
      if checkpointJoinerBlocks != nil {
        (joiner, router) = ingest.exportState(joinerBlocks: &checkpointJoinerBlocks!)
      } else {
        (joiner, router) = ingest.exportState()
      }
    }
    tensors[Self.joinerTensor] = Tensor(uint8s: joiner, shape: [joiner.count])
    tensors[Self.routerTensor] = Tensor(uint8s: router, shape: [router.count])
    tensors.merge(state.countTensors(of: partition)) { first, _ in first }
    return tensors
  }

  /// The ingest state and counts of a snapshot's or a partition state's tensors, read and
  /// checked before anything changes.
  private struct IngestTensors {
    var joiner: [UInt8]
    var router: [UInt8]
    var counts: Counts

    /// Reads them; `source` names the state in errors.
    ///
    /// - Throws: `ServiceError` (`stateUnreadable`) naming what is missing or malformed.
    init(_ tensors: [String: Tensor], source: String) throws {
      guard let joiner = tensors[Pipeline.joinerTensor],
        let router = tensors[Pipeline.routerTensor],
        let counts = tensors[PipelineState.countsTensor]
      else { throw ServiceError(.stateUnreadable, "\(source) has no ingest state or counts") }
      self.joiner = try joiner.uint8s()
      self.router = try router.uint8s()
      self.counts = try Counts(tensor: counts, source: "\(source)'s \(PipelineState.countsTensor)")
    }
  }

  // MARK: - Snapshots

  /// Restores the state of `snapshot` (written by `checkpoint`). No kernel is owed a publish:
  /// what the snapshot's checkpoint delivered after writing it is recorded apart
  /// (`owePublishingUnlessDelivered(snapshotVersion:)`).
  ///
  /// - Throws: an error naming what is missing or malformed; nothing is half-restored in the
  ///   trainer.
  public func restore(_ snapshot: Snapshot) throws {
    let manifest = snapshot.manifest
    try checkSettings(of: manifest)
    let tensors = snapshot.payload.tensors
    let kept = keptState(inSnapshot: tensors)
    try trainer.restore(stateTensors: tensors)
    drift = try DriftMonitor(settings: configuration.driftSettings, stateTensors: tensors)
    let ingested = try IngestTensors(tensors, source: "snapshot \(manifest.version)")
    try ingest.restore(joiner: ingested.joiner, router: ingested.router)
    var restored = PipelineState()
    restored.counts = ingested.counts
    restored.partitionCounts = try PipelineState.partitionCounts(in: tensors)
    for (partition, next) in manifest.offsets {
      restored.advance(partition, lane: lanes.lane(of: partition), to: next)
    }
    restored.book = DomainBook(metadata: manifest.extras)
    previousBackbones =
      manifest.extras[Self.previousBackbonesKey].map {
        $0.split(separator: ",").map(String.init)
      } ?? []
    unannouncedSwitch = Self.decodeSwitchedAt(manifest.extras[Self.unannouncedSwitchKey] ?? "")
    restored.book.undelivered = []
    if manifest.extras[DomainBook.publishedStepsKey] == nil {
      // Written before the book recorded them: every kernel had its newest version's steps.
      for (domain, kernel) in trainer.kernels {
        restored.book.publishedSteps[domain] = kernel.stepCount
      }
    }
    state = restored
    keptBackbone = kept
  }

  // MARK: - Partitions

  /// The partitions whose state this pipeline holds (every partition it has read, unless
  /// released), sorted.
  public var heldPartitions: [TopicPartition] { offsets.keys.sorted() }

  /// The domains `partition` owns here, sorted.
  public func domains(of partition: TopicPartition) -> [String] {
    trainer.domains(ofLane: lanes.lane(of: partition))
  }

  /// The state of `partition`, or nil when this pipeline holds none.
  public func partitionState(of partition: TopicPartition, createdAtMilliseconds: Int64)
    -> PartitionState?
  {
    partitionState(of: partition, createdAtMilliseconds: createdAtMilliseconds, withKept: true)
  }

  /// The state of `partition`, with the state kept of it for a rollback (`withKept`), or nil
  /// when this pipeline holds none; its domains' tensors taken out of `snapshot` when given
  /// (`stateTensors(of:taking:)`).
  func partitionState(
    of partition: TopicPartition, createdAtMilliseconds: Int64, withKept: Bool,
    taking snapshot: SnapshotTensors? = nil
  ) -> PartitionState? {
    guard let nextOffset = offsets[partition] else { return nil }
    let lane = lanes.lane(of: partition)
    var tensors = stateTensors(of: partition, taking: snapshot)
    if withKept, let kept = keptBackbone?.partitions[partition] {
      tensors[KeptBackbone.partitionTensor] = Tensor(uint8s: kept, shape: [kept.count])
    }
    return PartitionState(
      partition: partition, nextOffset: nextOffset, tensors: tensors,
      book: state.book.share(ofLane: lane, domains: trainer.domains(ofLane: lane)),
      backboneSHA256: backboneSHA256, backboneDirectory: backboneDirectory,
      trainingDigest: trainingDigest,
      createdAtMilliseconds: createdAtMilliseconds)
  }

  /// The held partitions among `partitions` (all when nil) that moved on since they last went
  /// to the state topic (`markHandedOver(_:)`), sorted.
  public func changedPartitions(of partitions: Set<TopicPartition>? = nil) -> [TopicPartition] {
    state.changedPartitions(of: partitions)
  }

  /// Notes that `handedOver` is on the state topic.
  public func markHandedOver(_ handedOver: PartitionState) {
    markHandedOver(handedOver.partition, nextOffset: handedOver.nextOffset)
  }

  /// `markHandedOver(_:)` of the state of `partition` up to `nextOffset`.
  func markHandedOver(_ partition: TopicPartition, nextOffset: Int64) {
    state.handedOverOffsets[partition] = nextOffset
  }

  /// Takes over a partition's state written by another process (or an earlier run), replacing
  /// what this pipeline held of that partition. Nothing changes when it throws.
  ///
  /// - Throws: `ServiceError`: `stateMismatch` when the state was trained on another backbone
  ///   or configuration, `stateUnreadable` when it is malformed.
  public func adopt(_ adopted: PartitionState) throws {
    guard adopted.backboneSHA256 == backboneSHA256 else {
      // A backbone switch under way in the group (`Pipeline+BackboneSwitch.swift`).
      if try adoptAcrossASwitch(adopted) { return }
      throw ServiceError(
        .stateMismatch,
        "the state of \(adopted.partition) was trained on backbone \(adopted.backboneSHA256), "
          + "this process runs \(backboneSHA256): every instance must load the same backbone")
    }
    guard adopted.trainingDigest == trainingDigest else {
      throw ServiceError(
        .stateMismatch,
        "the state of \(adopted.partition) was written with other event.*, label.*, domain.*, "
          + "backbone.*, iak.*, train.* or drift.* settings: every instance of a consumer group "
          + "must train with the same ones")
    }
    let tensors = adopted.tensors
    // Everything that can fail is checked on copies before anything here changes.
    let ingested = try IngestTensors(tensors, source: "the state of \(adopted.partition)")
    var checkedDrift = DriftMonitor(settings: drift.settings)
    try checkedDrift.adopt(stateTensors: tensors)
    var checkedIngest = ingest
    try checkedIngest.adopt(joiner: ingested.joiner, router: ingested.router)
    let checkedTrainer = try Trainer(
      backbone: backbone, kernelConfig: trainer.kernelConfig, config: trainer.config)
    try checkedTrainer.adoptLane(stateTensors: tensors)

    let kept = try keptState(in: adopted)

    release(adopted.partition)
    keep(kept, for: adopted.partition)
    let replaced = try trainer.adoptLane(stateTensors: tensors)
    if !replaced.isEmpty {
      logger.warning(
        "adopted domains that were also trained here from another partition; the input is not "
          + "keyed by region, so kernels depend on which process reads what",
        ["partition": adopted.partition.description, "domains": replaced.joined(separator: ",")])
    }
    try drift.adopt(stateTensors: tensors)
    try ingest.adopt(joiner: ingested.joiner, router: ingested.router)
    state.adopt(adopted, lane: lanes.lane(of: adopted.partition), counts: ingested.counts)
  }

  /// Forgets everything held of `partition` (it moved to another process): its domains, joiner
  /// memory, clock, counts and offset, and every metric series of those domains (the new owner
  /// reports them; a drift alert must not fire from both). Kernels already published stay
  /// published.
  public func release(_ partition: TopicPartition) {
    let lane = lanes.lane(of: partition)
    let domains = trainer.removeLane(lane)
    forget(domains)
    // Their new owner raises their alerts.
    alertLedger.dropWaiting(of: Set(domains))
    ingest.release(partition: lane, domains: Set(domains))
    state.release(partition, lane: lane, domains: domains)
    keptBackbone?.partitions[partition] = nil
    // What it read after its switch record goes with it (its next owner reads it again).
    backboneSwitch.waiting[partition] = nil
    backboneSwitch.late.remove(partition)
    backboneSwitch.lateOld[partition] = nil
    backboneSwitch.lateBooks[partition] = nil
    if backboneSwitch.waiting.isEmpty { backboneSwitch.target = nil }
  }

  /// Drops `domains` (released with their partition, or retired) from the drift monitor and
  /// the metrics: every series labelled with them goes.
  func forget(_ domains: [String]) {
    metrics?.removeSeries(where: "domain", isIn: Set(domains))
    for domain in domains {
      silentDomains.remove(domain)
      drift.removeDomain(domain)
    }
  }

  /// Makes `offset` the next offset to read of `partition`, keeping all state: its offsets went
  /// backwards (the topic was created again) and the records from `offset` on are new.
  func rewind(_ partition: TopicPartition, to offset: Int64) {
    state.rewind(partition, to: offset)
  }
}
