import Base
import Checkpoint
import Foundation
import Learner
import Observability
import Stream
import Synchronization

/// A backbone switch under way: the target, and the held partitions that reached their switch
/// record, with the records read after it (kept, not processed, until the switch).
struct BackboneSwitch {
  /// A record of a waiting partition, as it came.
  enum HeldRecord {
    case raw(Record)
    case decoded(DecodedRecord)

    var partition: TopicPartition {
      switch self {
      case .raw(let record): record.topicPartition
      case .decoded(let record): record.topicPartition
      }
    }
  }

  /// A partition at its switch record.
  struct Waiting {
    /// The switch record's offset: the partition's next offset stays there until the switch.
    var offset: Int64
    /// Where the partition's re-base window starts (the record's `rebase_from`), if it has one.
    var rebaseFrom: Int64?
    /// The partition's state on the switch's backbone, taken over from a member that switched
    /// first (`offset` is its next offset): adopted at the switch, with no re-base.
    var switched: PartitionState?
    /// What was read after it, in order.
    var records: [HeldRecord] = []
  }

  /// The backbone the waiting partitions switch to.
  var target: ControlRecord?
  /// The partitions at their switch record.
  var waiting: [TopicPartition: Waiting] = [:]
  /// Partitions taken over from a member still on a backbone this pipeline left: their records
  /// before their switch record are skipped (no one serves that backbone's kernels after the
  /// switch), and at the record the partition is re-based alone.
  var late: Set<TopicPartition> = []
  /// The pipelines on the backbones left that go on with late partitions up to their switch
  /// records (each holds the state taken over), so the partition reaches its record as it would
  /// in one process: its waiting impressions, clock, counts and retired versions.
  var lateOld: [TopicPartition: Pipeline] = [:]
  /// The book share each late partition came with (its retired versions survive the switch
  /// even when its backbone could not be loaded).
  var lateBooks: [TopicPartition: DomainBook] = [:]

  /// Whether `partition` waits at its switch record.
  func holds(_ partition: TopicPartition) -> Bool { waiting[partition] != nil }

  /// Keeps `record` of a waiting partition for after the switch.
  mutating func hold(_ record: HeldRecord) {
    waiting[record.partition]?.records.append(record)
  }

  /// The records held, over every waiting partition.
  var heldRecordCount: Int { waiting.values.reduce(0) { $0 + $1.records.count } }

  /// Whether no partition waits or catches up: the per-record checks can be skipped.
  var isIdle: Bool { waiting.isEmpty && late.isEmpty }
}

/// The backbone that threads decoding ahead prepare serving inputs with. A switch replaces it
/// and moves the generation on; each thread's preparer follows at its next chunk of records,
/// and the pipeline uses only inputs of the current generation (a chunk prepared before a
/// switch is scored on the training thread instead).
final class ServingBackbone: Sendable {
  private typealias Current = (
    generation: Int, make: @Sendable () -> ServingPreparer, config: BackboneConfig
  )
  private let current: Mutex<Current>
  private let published: Atomic<Int>

  init(_ make: @escaping @Sendable () -> ServingPreparer, config: BackboneConfig) {
    current = Mutex((0, make, config))
    published = Atomic(0)
  }

  /// The current generation.
  var generation: Int { published.load(ordering: .acquiring) }

  /// Moves to the backbone `make` prepares with.
  func replace(with make: @escaping @Sendable () -> ServingPreparer, config: BackboneConfig) {
    let next = current.withLock { current -> Int in
      current = (current.generation + 1, make, config)
      return current.generation
    }
    published.store(next, ordering: .releasing)
  }

  /// A preparer for one thread.
  func threadPreparer() -> ThreadPreparer { ThreadPreparer(self) }

  /// One thread's preparer, made again when the backbone changed.
  final class ThreadPreparer: @unchecked Sendable {
    private let owner: ServingBackbone
    private var generation = -1
    private var preparer: ServingPreparer?
    private var assembler: ExampleAssembler?

    init(_ owner: ServingBackbone) { self.owner = owner }

    /// Computes the serving input of each impression in `records` with the current backbone, the
    /// frozen layers over many impressions at a time (`ServingPreparer.inputs(for:)`).
    func prepare(_ records: inout [DecodedRecord]) {
      var impressions: [Int] = []
      var examples: [Example] = []
      for (index, record) in records.enumerated() {
        guard case .event(let event) = record.outcome, event.kind == .impression else { continue }
        if impressions.isEmpty { follow() }
        impressions.append(index)
        examples.append(assembler!.example(for: event, label: false, domain: ""))
      }
      guard !impressions.isEmpty else { return }
      for (index, input) in zip(impressions, preparer!.inputs(for: examples)) {
        records[index].servingInput = input
        records[index].servingInputGeneration = generation
      }
    }

    /// Makes the preparer again when the backbone changed.
    private func follow() {
      guard generation != owner.generation || preparer == nil else { return }
      let (now, make, config) = owner.current.withLock { ($0.generation, $0.make, $0.config) }
      preparer = make()
      assembler = ExampleAssembler(backbone: config)
      generation = now
    }
  }
}

extension Pipeline {
  /// The manifest extra naming the folder of the backbone a snapshot was trained on.
  static let backboneDirectoryKey = "backbone_dir"

  /// The records held by partitions waiting at their switch records.
  var heldRecordCount: Int { backboneSwitch.isIdle ? 0 : backboneSwitch.heldRecordCount }

  /// Whether a switch is under way and every held partition, and every partition the caller
  /// reads (`inputPartitions`), waits at its switch record: the switch can be made (or waits
  /// for its re-base), and nothing more is trained until it is.
  var everyPartitionWaits: Bool {
    backboneSwitch.target != nil && !backboneSwitch.waiting.isEmpty
      && state.offsets.keys.allSatisfy({ backboneSwitch.holds($0) })
      && (inputPartitions?() ?? []).allSatisfy({ backboneSwitch.holds($0) })
  }

  /// Reads a stretch of `source`'s input again, for a re-base: the lines of a file, or a
  /// partition's records from Kafka with a consumer of its own (outside the group).
  static func history(of source: any RecordSource, kafka: KafkaConfiguration)
    -> @Sendable (TopicPartition, Int64, Int64) throws -> [Record]
  {
    if let file = source as? FileRecordSource {
      return { _, from, until in file.records(from: from, until: until) }
    }
    return { partition, from, until in
      try KafkaTopicReader.read(
        [partition: (from, until)], configuration: kafka, timeout: .seconds(300))
    }
  }

  /// The ingest stage for `backbone`: a waiting impression holds only what the assembler reads
  /// of it.
  static func makeIngest(
    _ configuration: Configuration, backbone: Backbone, metrics: MetricsRegistry?
  ) throws -> EventIngest {
    var joiner = configuration.joinerConfiguration
    joiner.keptFeatures = Set(backbone.config.fields + backbone.config.numericFields)
    return try EventIngest(
      schema: configuration.eventSchema, joiner: joiner,
      router: try configuration.routerConfiguration(), metrics: metrics)
  }

  /// Loads the backbone `control` names from its folder.
  ///
  /// - Throws: `ServiceError` (`io`) when it cannot be loaded, or its sha256 is another.
  @Sendable static func loadBackbone(_ control: ControlRecord) throws -> Backbone {
    let backbone: Backbone
    do {
      backbone = try Backbone.load(from: control.backboneDirectory)
    } catch {
      throw ServiceError(
        .io, "cannot load the backbone from \(control.backboneDirectory): \(error)")
    }
    let sha = backbone.weightsSHA256
    guard sha == control.backboneSHA256 else {
      throw ServiceError(
        .io,
        "the backbone in \(control.backboneDirectory) has sha256 \(sha), not "
          + "\(control.backboneSHA256) as the switch record says")
    }
    return backbone
  }

  /// Takes a control record of `partition` at `offset`. A switch to the backbone already in use
  /// (none under way) is passed over. Otherwise the partition waits at the record: its next
  /// offset stays there and what it reads next is held, until every held partition has
  /// reached its own switch record; then the switch happens (`switchBackbone()`). A switch
  /// record naming another backbone than the one under way is passed over, with an error.
  func meet(_ control: ControlRecord, in partition: TopicPartition, at offset: Int64) throws {
    switch control.action {
    case .backbonePrepare:
      passOver(partition, at: offset)
      prepare(control, in: partition, at: offset)
    case .backboneAbandon:
      passOver(partition, at: offset)
      if let running = backgroundRebase,
        running.target.backboneSHA256 == control.backboneSHA256
      {
        running.cancel()
        backgroundRebase = nil
        logger.info(
          "the announced backbone switch was abandoned; its background re-base stopped",
          ["backbone": control.backboneSHA256])
      }
    case .backboneSwitch:
      if let target = backboneSwitch.target, target.backboneSHA256 != control.backboneSHA256 {
        logger.error(
          "passed over a switch record for another backbone than the switch under way",
          [
            "partition": partition.description, "offset": "\(offset)",
            "record_backbone": control.backboneSHA256, "switching_to": target.backboneSHA256,
          ])
        passOver(partition, at: offset)
        return
      }
      if backboneSwitch.target == nil && control.backboneSHA256 == backboneSHA256 {
        logger.debug(
          "passed over a switch record for the backbone in use",
          ["partition": partition.description, "offset": "\(offset)"])
        passOver(partition, at: offset)
        return
      }
      if backboneSwitch.target == nil {
        backboneSwitch.target = control
        logger.info(
          "a backbone switch record: each partition waits at its own until all have reached "
            + "theirs",
          [
            "partition": partition.description, "offset": "\(offset)",
            "backbone": control.backboneSHA256, "dir": control.backboneDirectory,
          ])
      }
      // The partition's next offset stays at the record (a snapshot taken while it waits
      // reads it again), but it is a held partition from here on.
      state.advance(partition, lane: lanes.lane(of: partition), to: offset)
      backboneSwitch.waiting[partition] = BackboneSwitch.Waiting(
        offset: offset, rebaseFrom: control.rebaseFrom)
      try switchBackboneIfReady()
    }
  }

  /// Moves past a control record that changes nothing (counted as a record).
  private func passOver(_ partition: TopicPartition, at offset: Int64) {
    state.count(partition) { $0.records += 1 }
    advance(partition, pastOffset: offset)
  }

  /// Switches when every held partition, and every partition the caller reads
  /// (`inputPartitions`), waits at its switch record; with `rebasesInBackground`, once the
  /// background re-base has reached the records, unless `waitingForTheRebase` (then it waits
  /// for it here).
  func switchBackboneIfReady(waitingForTheRebase: Bool = false) throws {
    guard let target = backboneSwitch.target, everyPartitionWaits else { return }
    let waiting = backboneSwitch.waiting
    var windows: [TopicPartition: (from: Int64, until: Int64)] = [:]
    for (partition, wait) in waiting where wait.switched == nil {
      if let from = wait.rebaseFrom, from < wait.offset { windows[partition] = (from, wait.offset) }
    }
    // A rollback resumes the kept state of each partition that has one, caught up on its
    // records since it was kept.
    let resumed = rollbackState(for: target)
    for (partition, wait) in waiting where wait.switched == nil {
      if let kept = resumed?[partition] { windows[partition] = (kept.nextOffset, wait.offset) }
    }
    // In `serve` the windows are read in the background while the partitions wait: the
    // training loop goes on (checkpoints, hand-overs, its health), and calls again until the
    // re-base has reached every switch record.
    if rebasesInBackground, !waitingForTheRebase, resumed == nil, !windows.isEmpty,
      !backgroundRebaseReached(target, windows)
    {
      return
    }
    backboneSwitch = BackboneSwitch()
    // What a background re-base of the same windows has read so far is taken over; the rest
    // of every window is read now.
    var started: Pipeline?
    if let background = backgroundRebase {
      backgroundRebase = nil
      let prepared = background.windows
      if resumed == nil, background.target.backboneSHA256 == target.backboneSHA256,
        prepared.allSatisfy({ windows[$0.key]?.from == $0.value })
      {
        started = background.finish(at: windows.mapValues(\.until))
      } else {
        background.cancel()
        logger.warning(
          "the background re-base prepared another switch or other windows; the switch "
            + "re-bases now instead")
      }
    }
    var switched = true
    do {
      try switchBackbone(to: target, rebasing: windows, continuing: started, resuming: resumed)
    } catch {
      switched = false
      logger.error(
        "the backbone switch failed; the old backbone goes on serving",
        ["backbone": target.backboneSHA256, "error": "\(error)"])
      metrics?.counter(
        "iak_backbone_switches_failed_total",
        help: "Backbone switches that failed; the old backbone went on serving."
      ).with().increment()
    }
    if switched {
      // Announced at the next checkpoint; an announcement of an earlier switch not yet made
      // is overtaken by this one.
      unannouncedSwitch = waiting.filter { $0.value.switched == nil }.mapValues(\.offset)
    }
    let taken = waiting.filter { $0.value.switched != nil }.keys.sorted()
    guard switched || taken.isEmpty else {
      // They are on the backbone that could not be loaded: stop rather than train a partition
      // on two backbones (their states stay on the state topic).
      throw ServiceError(
        .stateMismatch,
        "the switch to backbone \(target.backboneSHA256) failed, and "
          + "\(taken.map(\.description).joined(separator: ", ")) already on it cannot be taken "
          + "over; make \(target.backboneDirectory) readable on this machine and start again")
    }
    for partition in waiting.keys.sorted() {
      if let state = waiting[partition]!.switched {
        try adopt(state)  // Now on this pipeline's backbone.
      } else {
        passOver(partition, at: waiting[partition]!.offset)
      }
    }
    // What the waiting partitions read meanwhile, partition by partition, in order.
    for partition in waiting.keys.sorted() {
      for held in waiting[partition]!.records {
        switch held {
        case .raw(let record): try process([record])
        case .decoded(let record): try process([record])
        }
      }
    }
  }

  /// Whether the background re-base of `windows` for `target` has read every window up to its
  /// end (or failed: the switch then re-bases itself); starts it, or adds the windows it
  /// lacks, when not.
  private func backgroundRebaseReached(
    _ target: ControlRecord, _ windows: [TopicPartition: (from: Int64, until: Int64)]
  ) -> Bool {
    if let running = backgroundRebase,
      running.target.backboneSHA256 != target.backboneSHA256
        || running.windows.contains(where: { windows[$0.key]?.from != $0.value })
    {
      running.cancel()
      backgroundRebase = nil
    }
    if backgroundRebase == nil {
      startBackgroundRebase(for: target)
      logger.info(
        "every partition is at its switch record; the re-base reads the windows in the "
          + "background, and the switch follows once it has reached the records",
        ["backbone": target.backboneSHA256, "partitions": "\(windows.count)"])
    }
    let rebase = backgroundRebase!
    for (partition, window) in windows {
      rebase.add(partition, from: window.from, cap: window.until)
    }
    rebase.advance(to: windows.mapValues(\.until))
    return rebase.isCaughtUp || rebase.hasFailed
  }

  /// Moves to `target`'s backbone. The state after the switch (kernels, batches, joiner,
  /// drift) is what a pipeline started empty on it would hold after reading the records of
  /// `windows` (each partition's re-base window, read again through `history`; none: every
  /// kernel from zero), with the offsets, counts and kernel numbering going on. The old domains
  /// are retired (their last versions stay on the kernels topic, tagged with the old backbone).
  /// Nothing changes when it throws.
  ///
  /// - Throws: when the backbone cannot be loaded or does not fit the configuration, or a
  ///   re-base window cannot be read.
  func switchBackbone(
    to target: ControlRecord, rebasing windows: [TopicPartition: (from: Int64, until: Int64)] = [:],
    continuing started: Pipeline? = nil, resuming resumed: [TopicPartition: PartitionState]? = nil
  ) throws {
    let loaded = try backboneLoader(target)
    guard loaded.config.fields == backbone.config.fields,
      loaded.config.numericFields == backbone.config.numericFields
    else {
      throw ServiceError(
        .configuration,
        "the backbone in \(target.backboneDirectory) reads other fields than the one in use")
    }
    // What this switch leaves, kept for a rollback.
    let leaving =
      configuration.settings.checkpoint.keepsPreviousBackbone
      ? KeptBackbone(
        sha256: backboneSHA256,
        partitions: heldPartitions.reduce(into: [:]) { kept, partition in
          kept[partition] =
            partitionState(of: partition, createdAtMilliseconds: 0, withKept: false)?.encoded()
        }) : nil
    guard windows.isEmpty || history != nil else {
      throw ServiceError(
        .configuration, "the switch asks for a re-base, and this input cannot be read again")
    }
    // A pipeline of its own makes the new state, partition by partition; its state becomes
    // this one's. It publishes, alerts and dead-letters nothing. A partition with a window
    // reads it again (a background re-base's pipeline has read the windows it prepared up to
    // the switch); a rollback's starts from its kept state; any other carries its waiting
    // impressions, clock and router share over, its kernels from zero.
    let rebase =
      try started
      ?? Self.rebasePipeline(
        configuration, backbone: loaded,
        sha: target.backboneSHA256, logger: logger)
    for partition in (resumed ?? [:]).keys.sorted() { try rebase.adopt(resumed![partition]!) }
    for partition in heldPartitions
    where windows[partition] == nil && resumed?[partition] == nil {
      if let carried = carriedState(of: partition, to: target.backboneSHA256) {
        try rebase.adopt(carried)
      }
    }
    let done = started?.offsets ?? [:]
    let rebased = try readWindows(
      windows.filter { done[$0.key] == nil }, into: rebase, history ?? { _, _, _ in [] })
    let newTrainer = rebase.trainer
    let (joiner, router) = rebase.ingest.exportState()
    var newIngest = try Self.makeIngest(configuration, backbone: loaded, metrics: metrics)
    try newIngest.restore(joiner: joiner, router: router)
    let newDrift = try DriftMonitor(
      settings: configuration.driftSettings, stateTensors: rebase.drift.stateTensors())
    let old = trainer.domains
    for domain in old { state.book.retire(domain, lane: trainer.lane(of: domain)) }
    forget(old)
    alertLedger.dropWaiting(of: Set(old))
    untrainedImpressionTimes = [:]
    let previous = backboneSHA256
    previousBackbones.append(previous)
    backbone = loaded
    backboneSHA256 = target.backboneSHA256
    backboneDirectory = target.backboneDirectory
    newTrainer.stepDuration = quality?.stepDuration.with()
    newTrainer.frozenRowCounters = trainer.frozenRowCounters
    trainer = newTrainer
    assembler = ExampleAssembler(backbone: loaded.config)
    drift = newDrift
    ingest = newIngest
    publisher?.backboneSHA256 = target.backboneSHA256
    keptBackbone = leaving
    servingBackbone.replace(with: newTrainer.servingPreparers(), config: loaded.config)
    metrics?.counter(
      "iak_backbone_switches_total", help: "Backbone switches made (ControlRecord)."
    ).with().increment()
    logger.info(
      resumed != nil
        ? "switched back to a backbone left earlier; its kept kernels were caught up"
        : windows.isEmpty
          ? "switched the backbone; every kernel starts from zero on it, and the impressions "
            + "waiting for their labels were carried over"
          : "switched the backbone; the kernels were re-based on it",
      [
        "from": previous, "to": target.backboneSHA256, "dir": target.backboneDirectory,
        "retired_domains": "\(old.count)", "rebased_records": "\(rebased)",
        "domains": "\(trainer.domains.count)",
      ])
  }
}

/// The backbone a start trains on: the configured one, unless the newest snapshot was trained
/// on another, the one a backbone switch moved to: then that one, from the folder the snapshot
/// records, when it holds a backbone with the recorded sha256.
struct BackboneChoice {
  /// The backbone.
  var backbone: Backbone
  /// Its sha256.
  var sha256: String
  /// The folder it was loaded from.
  var directory: String

  /// Chooses between the backbone in `configured` and the one the newest snapshot of `store`
  /// names.
  ///
  /// - Throws: `ServiceError` (`io`) when the configured backbone cannot be loaded.
  static func choose(configured: String, store: SnapshotStore?, logger: Logger) throws
    -> BackboneChoice
  {
    let backbone: Backbone
    do {
      backbone = try Backbone.load(from: configured)
    } catch {
      throw ServiceError(
        .io,
        "cannot load the backbone from \(configured): \(error); pretrain one with "
          + "`iak-stream pretrain --input EVENTS --out \(configured)` or set backbone.dir")
    }
    let chosen = BackboneChoice(
      backbone: backbone, sha256: backbone.weightsSHA256, directory: configured)
    guard let listing = try? store?.listVersions(),
      let newest = listing.last(where: { $0.manifest != nil })?.manifest,
      newest.backboneSHA256 != chosen.sha256,
      let recorded = newest.extras[Pipeline.backboneDirectoryKey]
    else { return chosen }
    guard let switched = try? Backbone.load(from: recorded),
      switched.weightsSHA256 == newest.backboneSHA256
    else {
      logger.warning(
        "the newest snapshot was trained on another backbone, which its recorded folder does "
          + "not hold; starting from the configured one",
        [
          "snapshot": "\(newest.version)", "snapshot_backbone": newest.backboneSHA256,
          "recorded_dir": recorded, "configured_dir": configured,
        ])
      return chosen
    }
    logger.info(
      "the newest snapshot was trained on the backbone a switch moved to; loading that one "
        + "instead of backbone.dir (set backbone.dir to it to silence this)",
      ["snapshot": "\(newest.version)", "backbone": newest.backboneSHA256, "dir": recorded])
    return BackboneChoice(backbone: switched, sha256: newest.backboneSHA256, directory: recorded)
  }
}

// MARK: - Partitions handed over across a switch

extension Pipeline {
  /// The manifest extra listing the backbones this pipeline switched away from, oldest first.
  static let previousBackbonesKey = "previous_backbones"

  /// A pipeline on the backbone `adopted` was trained on, holding it; nil (logged) when that
  /// backbone cannot be loaded from the folder the state names.
  private func goOnOnTheBackboneLeft(_ adopted: PartitionState) -> Pipeline? {
    do {
      guard let directory = adopted.backboneDirectory else {
        throw ServiceError(.io, "the state does not name its backbone's folder")
      }
      let old = try Self.rebasePipeline(
        configuration,
        backbone: try backboneLoader(
          ControlRecord(switchingTo: adopted.backboneSHA256, directory: directory)),
        sha: adopted.backboneSHA256, logger: logger)
      try old.adopt(adopted)
      return old
    } catch {
      logger.warning(
        "cannot go on with a partition taken over on the backbone left; its records up to its "
          + "switch record are skipped, and its waiting impressions and counts start again",
        ["partition": adopted.partition.description, "error": "\(error)"])
      return nil
    }
  }

  /// Takes over `adopted`, trained on another backbone than this pipeline's, when a switch
  /// explains it; returns false when none does.
  ///
  /// - A state on the backbone this pipeline is switching to (or, with no switch under way, on
  ///   one it never left): the member that had the partition switched first. The partition waits
  ///   as if at its switch record, its records held, and its state is adopted as it is at this
  ///   pipeline's switch (at once when no other partition is left to wait for).
  /// - A state on a backbone this pipeline left: the partition's records up to its own switch
  ///   record are skipped, and at the record it is re-based alone (`catchUp`).
  ///
  /// Until then the partition is not in the snapshots: its state stays the one on the state
  /// topic, and a restart takes it over again.
  func adoptAcrossASwitch(_ adopted: PartitionState) throws -> Bool {
    guard adopted.trainingDigest == trainingDigest else { return false }
    let partition = adopted.partition
    if previousBackbones.contains(adopted.backboneSHA256) {
      release(partition)
      backboneSwitch.late.insert(partition)
      backboneSwitch.lateOld[partition] = goOnOnTheBackboneLeft(adopted)
      backboneSwitch.lateBooks[partition] = adopted.book
      logger.info(
        "took over a partition still on a backbone this process switched away from; it goes "
          + "on on that backbone up to its switch record, then it is re-based",
        [
          "partition": partition.description, "offset": "\(adopted.nextOffset)",
          "its_backbone": adopted.backboneSHA256,
        ])
      return true
    }
    guard let directory = adopted.backboneDirectory,
      backboneSwitch.target.map({ $0.backboneSHA256 == adopted.backboneSHA256 }) ?? true
    else { return false }
    release(partition)
    if backboneSwitch.target == nil {
      backboneSwitch.target = ControlRecord(
        switchingTo: adopted.backboneSHA256, directory: directory)
    }
    backboneSwitch.waiting[partition] = BackboneSwitch.Waiting(
      offset: adopted.nextOffset, switched: adopted)
    logger.info(
      "took over a partition already on the backbone a switch goes to; it waits for this "
        + "process's switch",
      [
        "partition": partition.description, "offset": "\(adopted.nextOffset)",
        "backbone": adopted.backboneSHA256,
      ])
    try switchBackboneIfReady()
    return true
  }

  /// `partition`'s waiting impressions, router share, clock and counts, without its domains
  /// (their kernels are retired), as a partition state on the backbone `sha`: what a switch
  /// carries over for a partition it does not re-base. Its waiting impressions then train the
  /// new backbone's kernels when their labels come, and count at serving time with the scores
  /// they were served with.
  func carriedState(of partition: TopicPartition, to sha: String) -> PartitionState? {
    guard var state = partitionState(of: partition, createdAtMilliseconds: 0, withKept: false)
    else { return nil }
    // The pipeline-wide tensors, with the trainer's list of domains emptied (that of a lane
    // with none).
    state.tensors = state.tensors.filter { $0.key.hasPrefix(".") }
      .merging(trainer.stateTensors(ofLane: .min).filter { $0.key == Trainer.StateTensor.domains })
    { _, empty in empty }
    state.book = DomainBook()
    state.backboneSHA256 = sha
    return state
  }

  /// Takes a record of a partition adopted from a backbone this pipeline left
  /// (`BackboneSwitch.late`). Before the partition's switch record to this pipeline's backbone,
  /// `feed` gives it to the pipeline on the backbone left that holds the partition's state
  /// (`BackboneSwitch.lateOld`; none when that backbone could not be loaded: then it is
  /// skipped). At the record the partition is re-based alone, as one process would at its
  /// switch: its window read again through `history`, or, without one, its waiting
  /// impressions carried over and its kernels from zero; its counts and retired versions are
  /// those the pipeline on the old backbone reached.
  func catchUp(
    _ control: ControlRecord?, in partition: TopicPartition, at offset: Int64,
    feed: (Pipeline) throws -> Void
  ) throws {
    guard let control, control.action == .backboneSwitch,
      control.backboneSHA256 == backboneSHA256
    else {
      if let old = backboneSwitch.lateOld[partition] { try feed(old) }
      return
    }
    let old = backboneSwitch.lateOld[partition]
    let lane = lanes.lane(of: partition)
    let rebase = try Self.rebasePipeline(
      configuration, backbone: backbone, sha: backboneSHA256, logger: logger)
    // What one process does at this record: a rollback resumes the kept state, caught up; a
    // window is read again; otherwise the waiting impressions carry over.
    var window: (from: Int64, until: Int64)?
    if let from = control.rebaseFrom, from < offset { window = (from, offset) }
    if control.isRollback, let bytes = old?.keptBackbone?.partitions[partition],
      old?.keptBackbone?.sha256 == backboneSHA256
    {
      let kept = try PartitionState(bytes: bytes)
      try rebase.adopt(kept)
      window = kept.nextOffset < offset ? (kept.nextOffset, offset) : nil
    } else if window == nil, let carried = old?.carriedState(of: partition, to: backboneSHA256) {
      try rebase.adopt(carried)
    }
    if let window {
      guard let history else {
        throw ServiceError(
          .configuration,
          "\(partition) must be re-based, and this input cannot be read again")
      }
      _ = try readWindows([partition: window], into: rebase, history)
    }
    // Counted as one process counts: every record up to the switch record, on the old
    // backbone; its domains retired, so that they number on if they come back.
    var book =
      old.map { $0.state.book.share(ofLane: lane, domains: $0.trainer.domains(ofLane: lane)) }
      ?? backboneSwitch.lateBooks[partition] ?? DomainBook()
    for domain in Array(book.kernelVersions.keys) { book.retire(domain, lane: lane) }
    let counted = old?.partitionState(of: partition, createdAtMilliseconds: 0, withKept: false)
    backboneSwitch.late.remove(partition)
    backboneSwitch.lateOld[partition] = nil
    backboneSwitch.lateBooks[partition] = nil
    if var rebased = rebase.partitionState(of: partition, createdAtMilliseconds: 0) {
      if let counted {
        rebased.tensors.merge(counted.tensors.filter { $0.key.hasPrefix(".pipeline/") }) {
          _, counted in counted
        }
      }
      try adopt(rebased)
    }
    state.book.adopt(book)
    // What one process keeps of the backbone it leaves, for a rollback.
    if configuration.settings.checkpoint.keepsPreviousBackbone, let counted {
      keep((counted.backboneSHA256, counted.encoded()), for: partition)
    }
    passOver(partition, at: offset)
    unannouncedSwitch[partition] = offset
    logger.info(
      "re-based a partition taken over from the old backbone at its switch record",
      ["partition": partition.description, "offset": "\(offset)"])
  }

  /// Reads each partition's window `from..<until` again through `history` into `rebase`,
  /// partition by partition (control records left out), with progress and
  /// `iak_backbone_rebase_records_total`; returns the records read.
  func readWindows(
    _ windows: [TopicPartition: (from: Int64, until: Int64)], into rebase: Pipeline,
    _ history: (TopicPartition, Int64, Int64) throws -> [Record]
  ) throws -> Int {
    let total = windows.values.reduce(0) { $0 + Int($1.until - $1.from) }
    let progress = ProgressReporter(
      label: "re-base", unit: "records", total: total, logger: logger)
    let counted = metrics?.counter(
      "iak_backbone_rebase_records_total",
      help: "Records read again and trained on the new backbone by backbone switches' re-bases."
    ).with()
    var read = 0
    for partition in windows.keys.sorted() {
      let (from, until) = windows[partition]!
      logger.info(
        "re-basing a partition on the new backbone",
        ["partition": partition.description, "from": "\(from)", "until": "\(until)"])
      let records = try history(partition, from, until)
      if records.count < until - from {
        logger.warning(
          "part of a re-base window is no longer on the input (retention, or empty lines); "
            + "the re-base trains on what is left",
          [
            "partition": partition.description, "from": "\(from)", "until": "\(until)",
            "records": "\(records.count)",
          ])
      }
      let events = records.filter { !ControlRecord.isControl($0.value) }
      for start in stride(from: 0, to: events.count, by: 10_000) {
        try rebase.process(Array(events[start..<min(start + 10_000, events.count)]))
        progress.update(done: read + min(start + 10_000, events.count))
      }
      read += records.count
      counted?.increment(by: Double(records.count))
    }
    progress.finish(done: read)
    return read
  }
}

// MARK: - Re-basing ahead of a switch

extension Pipeline {
  /// A pipeline on `backbone` that reads re-base windows: it publishes, alerts and
  /// dead-letters nothing, and reports no metrics.
  static func rebasePipeline(
    _ configuration: Configuration, backbone: Backbone, sha: String, logger: Logger
  ) throws -> Pipeline {
    let pipeline = try Pipeline(
      configuration: configuration, backbone: backbone, backboneSHA256: sha, store: nil,
      publisher: nil, alertEmitter: nil, deadLetters: nil, logger: logger.child("rebase"),
      metrics: nil)
    // It reads again records the live pipeline already refused (and dead-lettered).
    pipeline.logsRefusedRecords = false
    return pipeline
  }

  /// Takes a `backbone-prepare` record of `partition` at `offset` (already passed over): with
  /// `rebasesInBackground` and a window, the partition's re-base starts in the background
  /// (`BackgroundRebase`), on the new backbone, while this pipeline goes on.
  func prepare(_ control: ControlRecord, in partition: TopicPartition, at offset: Int64) {
    guard rebasesInBackground, history != nil, let from = control.rebaseFrom,
      control.backboneSHA256 != backboneSHA256, backboneSwitch.target == nil
    else { return }
    if let running = backgroundRebase,
      running.target.backboneSHA256 != control.backboneSHA256
    {
      running.cancel()
      backgroundRebase = nil
    }
    if backgroundRebase == nil { startBackgroundRebase(for: control) }
    backgroundRebase?.add(partition, from: from, cap: offset + 1)
  }

  /// Starts a background re-base on `control`'s backbone, with no partition yet.
  func startBackgroundRebase(for control: ControlRecord) {
    guard let history else { return }
    let configuration = configuration
    let loader = backboneLoader
    let logger = logger
    backgroundRebase = BackgroundRebase(
      target: control,
      make: {
        try Self.rebasePipeline(
          configuration, backbone: try loader(control), sha: control.backboneSHA256,
          logger: logger)
      }, history: history, logger: logger.child("rebase"), metrics: metrics)
  }
}

// MARK: - The kernels topic around a switch

extension Pipeline {
  /// The manifest extra listing the partitions switched and not yet announced
  /// (`topic/partition=offset`, comma-separated).
  static let unannouncedSwitchKey = "unannounced_backbone_switch"

  static func encodeSwitchedAt(_ switchedAt: [TopicPartition: Int64]) -> String {
    switchedAt.keys.sorted().map { "\($0)=\(switchedAt[$0]!)" }.joined(separator: ",")
  }

  static func decodeSwitchedAt(_ text: String) -> [TopicPartition: Int64] {
    var result: [TopicPartition: Int64] = [:]
    for entry in text.split(separator: ",") {
      guard let equals = entry.lastIndex(of: "="),
        let partition = TopicPartition(parsing: entry[..<equals]),
        let offset = Int64(entry[entry.index(after: equals)...])
      else { continue }
      result[partition] = offset
    }
    return result
  }

  /// What a checkpoint publishes for a backbone switch, after its own kernels: the re-based
  /// kernels that changed, ahead of an announced switch (`<domain>@<sha12>`), and the
  /// announcement of a switch made (`.backbone`). What is not delivered goes at the next
  /// checkpoint; it never fails the checkpoint (the live set and the offsets are not at stake).
  func publishForTheSwitch(snapshotVersion: Int, at createdAtMilliseconds: Int64) {
    // Without a topic (a folder only) nothing goes ahead, and a snapshot keeps the
    // announcement for a start that has one.
    guard let publisher, publisher.hasTopic else { return }
    if let rebase = backgroundRebase {
      let items = rebase.aheadItems()
      do throws(KernelPublisher.Failure) {
        try publisher.publishAhead(
          items, backboneSHA256: rebase.target.backboneSHA256, rebase: rebase.id,
          snapshotVersion: snapshotVersion, createdAtMilliseconds: createdAtMilliseconds)
        rebase.aheadDelivered(items)
      } catch {
        let failed = Set(error.domains)
        rebase.aheadDelivered(items.filter { !failed.contains($0.kernel.domain) })
        logger.warning(
          "re-based kernels were not published ahead; they go again at the next checkpoint",
          ["error": error.description])
      }
    }
    guard !unannouncedSwitch.isEmpty, let previous = previousBackbones.last else { return }
    let announcement = BackboneAnnouncement(
      backboneSHA256: backboneSHA256, backboneDirectory: backboneDirectory ?? "",
      previousBackboneSHA256: previous, switchedAt: unannouncedSwitch,
      snapshotVersion: snapshotVersion, createdAtMilliseconds: createdAtMilliseconds)
    do throws(KernelPublisher.Failure) {
      try publisher.announce(announcement)
      unannouncedSwitch = [:]
    } catch {
      logger.warning(
        "the backbone switch was not announced on the kernels topic; it is at the next "
          + "checkpoint", ["error": error.description])
    }
  }
}

// MARK: - Keeping the state a switch leaves, for a rollback

/// The state a backbone switch left (`checkpoint.keep_previous_backbone`): each partition's
/// state on that backbone as at its switch record, encoded as a partition state
/// (`PartitionState.encoded()`). A rollback (`ControlRecord.isRollback`) adopts these into a
/// pipeline on that backbone and catches each up on its partition's records since.
struct KeptBackbone {
  /// The backbone it was trained on.
  var sha256: String
  /// Each partition's state.
  var partitions: [TopicPartition: [UInt8]]

  /// The tensor name prefix of kept states in a snapshot (`.previous/<topic>/<partition>`) and
  /// the tensor of a partition state that carries its partition's (`.previous/state`).
  static let tensorPrefix = ".previous/"
  static let partitionTensor = ".previous/state"
}

extension Pipeline {
  /// The kept states a rollback to `target` resumes, by partition; nil when `target` is not a
  /// rollback or nothing of its backbone is kept (logged: the kernels start again).
  func rollbackState(for target: ControlRecord) -> [TopicPartition: PartitionState]? {
    guard target.isRollback else { return nil }
    guard let kept = keptBackbone, kept.sha256 == target.backboneSHA256 else {
      logger.warning(
        "a rollback to a backbone of which no state is kept; its kernels start again (from "
          + "zero or re-based); keep it with checkpoint.keep_previous_backbone = true",
        ["backbone": target.backboneSHA256, "kept": keptBackbone?.sha256 ?? "none"])
      return nil
    }
    var states: [TopicPartition: PartitionState] = [:]
    for (partition, bytes) in kept.partitions {
      do {
        states[partition] = try PartitionState(bytes: bytes)
      } catch {
        logger.error(
          "a kept partition state cannot be read; that partition's kernels start again",
          ["partition": partition.description, "error": "\(error)"])
      }
    }
    return states
  }

  /// The kept states as snapshot tensors.
  func keptTensors() -> [String: Tensor] {
    guard let kept = keptBackbone else { return [:] }
    return kept.partitions.reduce(into: [:]) { tensors, entry in
      tensors[KeptBackbone.tensorPrefix + entry.key.description] = Tensor(
        uint8s: entry.value, shape: [entry.value.count])
    }
  }

  /// The kept states in a snapshot's `tensors` (none, with a note, when
  /// `checkpoint.keep_previous_backbone` is off); one that cannot be read is left out, logged.
  func keptState(inSnapshot tensors: [String: Tensor]) -> KeptBackbone? {
    let kept = tensors.filter { $0.key.hasPrefix(KeptBackbone.tensorPrefix) }
    guard !kept.isEmpty else { return nil }
    guard configuration.settings.checkpoint.keepsPreviousBackbone else {
      logger.info(
        "the snapshot keeps the state of a backbone switched away from; dropped, since "
          + "checkpoint.keep_previous_backbone is false")
      return nil
    }
    var result: KeptBackbone?
    for (name, tensor) in kept.sorted(by: { $0.key < $1.key }) {
      do {
        let bytes = try tensor.uint8s()
        let state = try PartitionState(bytes: bytes)
        if result == nil { result = KeptBackbone(sha256: state.backboneSHA256, partitions: [:]) }
        guard state.backboneSHA256 == result!.sha256 else { continue }
        result!.partitions[state.partition] = bytes
      } catch {
        logger.error(
          "a kept partition state in the snapshot cannot be read; a rollback starts that "
            + "partition's kernels again", ["tensor": name, "error": "\(error)"])
      }
    }
    return result
  }

  /// The kept state a partition state carries, if any (its partition's, from the member that
  /// had it), as its backbone and bytes.
  ///
  /// - Throws: `ServiceError` (`stateUnreadable`) when it is not a partition state.
  func keptState(in adopted: PartitionState) throws -> (sha256: String, bytes: [UInt8])? {
    guard configuration.settings.checkpoint.keepsPreviousBackbone,
      let tensor = adopted.tensors[KeptBackbone.partitionTensor]
    else { return nil }
    let bytes = try tensor.uint8s()
    return (try PartitionState(bytes: bytes).backboneSHA256, bytes)
  }

  /// Keeps `kept` as `partition`'s kept state (none: forgets it).
  func keep(_ kept: (sha256: String, bytes: [UInt8])?, for partition: TopicPartition) {
    keptBackbone?.partitions[partition] = nil
    guard let kept else { return }
    if keptBackbone?.sha256 != kept.sha256 {
      keptBackbone = KeptBackbone(sha256: kept.sha256, partitions: [:])
    }
    keptBackbone!.partitions[partition] = kept.bytes
  }
}
