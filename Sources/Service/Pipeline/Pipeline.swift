import Base
import Checkpoint
import Foundation
import Learner
import Observability
import Stream

/// The streaming pipeline of DESIGN.md, top to bottom: records -> decode (bad input to the
/// dead-letter topic) -> join clicks to impressions -> route to domains -> per-domain batches ->
/// kernel training with prequential evaluation -> drift monitor and alerts -> snapshot of all
/// state with the offsets it covers -> publish changed kernels.
///
/// Everything runs on the caller's thread in record order, so the same records from the same
/// snapshot give bit-identical state. The caller owns the loop (`replay`, `serve`): it hands
/// records to `process`, calls `checkpoint` when its interval is due, and commits the returned
/// offsets to Kafka only after `checkpoint` returned (the snapshot is durable and its kernels
/// delivered).
public final class Pipeline {
  /// What went through the pipeline.
  public struct Counts: Sendable, Equatable {
    /// Records consumed.
    public var records = 0
    /// Records rejected by the decoder.
    public var rejected = 0
    /// Labelled examples trained on.
    public var examples = 0
    /// Of which clicked.
    public var positives = 0

    /// The counts as a snapshot holds them (`.pipeline/counts`: int64 [records, rejected,
    /// examples, positives]).
    var tensor: Tensor {
      Tensor(int64s: [records, rejected, examples, positives].map(Int64.init), shape: [4])
    }

    /// Reads counts back from `tensor`; `source` names it in the error.
    ///
    /// - Throws: `ServiceError` (`stateUnreadable`) unless it holds four int64 values.
    init(tensor: Tensor, source: String) throws {
      let values = try tensor.int64s().map(Int.init)
      guard values.count == 4 else {
        throw ServiceError(.stateUnreadable, "\(source) has \(values.count) counts, not 4")
      }
      self.init(records: values[0], rejected: values[1], examples: values[2], positives: values[3])
    }

    /// Creates counts.
    init(records: Int = 0, rejected: Int = 0, examples: Int = 0, positives: Int = 0) {
      self.records = records
      self.rejected = rejected
      self.examples = examples
      self.positives = positives
    }

    /// Adds `other` (`sign` 1) or takes it away (`sign` -1), field by field.
    mutating func add(_ other: Counts, sign: Int = 1) {
      records += sign * other.records
      rejected += sign * other.rejected
      examples += sign * other.examples
      positives += sign * other.positives
    }
  }

  /// The frozen backbone, shared read-only by every kernel. Only a backbone switch
  /// (`ControlRecord`, `Pipeline+BackboneSwitch.swift`) replaces it.
  public internal(set) var backbone: Backbone
  /// sha256 of the backbone's model.safetensors, recorded in snapshots and published kernels.
  public internal(set) var backboneSHA256: String
  /// The folder `backbone` was loaded from, when known: snapshots record it, so a start after a
  /// backbone switch can load the backbone its snapshot was trained on.
  public var backboneDirectory: String?
  /// The kernels and their batches.
  public internal(set) var trainer: Trainer
  /// Positions, counts and the domain book: everything the pipeline itself keeps, besides
  /// its trainer, drift monitor and ingest.
  var state = PipelineState()
  /// Counts so far (restored from the snapshot).
  public var counts: Counts { state.counts }

  /// What the label joiner has done so far (`LabelJoiner.Counts`).
  public var labelCounts: LabelJoiner.Counts { ingest.labelCounts }
  /// The next offset to read of every partition seen.
  public var offsets: [TopicPartition: Int64] { state.offsets }
  /// Kernel versions, deactivated and undelivered domains (`DomainBook`).
  public var book: DomainBook { state.book }
  /// Drift alerts raised, their outcomes, and those waiting for a checkpoint.
  var alertLedger = AlertLedger()
  /// Drift events raised so far in this run (only those since the last snapshot when
  /// `keepsAlertHistory` is false).
  public var alerts: [DriftEvent] { alertLedger.events }
  /// What was done about each of `alerts` (same order and count).
  public var alertOutcomes: [DriftActionOutcome] { alertLedger.outcomes }
  /// Whether `alerts` keeps every alert of the run (a replay's summary lists them all) or drops
  /// those a snapshot has recorded (serve: months of alerts would otherwise stay in memory; the
  /// snapshots, the alerts topic and the log hold them).
  public var keepsAlertHistory: Bool {
    get { alertLedger.keepsHistory }
    set { alertLedger.keepsHistory = newValue }
  }
  /// Called with every labelled example's impression id, domain, label and serving-time score
  /// (when it has one), in training order: `replay --serving-scores`.
  public var servingScoreSink: ((String, String, Bool, ServingScore) -> Void)?
  /// When set (benchmarks: freshness), called once per closed batch that trained, with the
  /// event times (milliseconds) of the impressions it trained on for the first time (a
  /// correcting positive copy is not a first time).
  var trainedImpressionSink: (([Int64]) -> Void)?
  /// Per domain, the event times of impressions in its open batch not yet reported to
  /// `trainedImpressionSink` (kept only while it is set).
  var untrainedImpressionTimes: [String: [Int64]] = [:]

  let configuration: Configuration
  var assembler: ExampleAssembler
  private let policy: DriftPolicy
  var drift: DriftMonitor
  var ingest: EventIngest
  /// A backbone switch under way: the partitions waiting at their switch record.
  var backboneSwitch = BackboneSwitch()
  /// The backbones this pipeline switched away from, oldest first (snapshots keep them): a
  /// partition state on one of them was handed over by a member that had not switched yet.
  var previousBackbones: [String] = []
  /// The partitions this pipeline switched, with their switch records' offsets, until the
  /// announcement (`BackboneAnnouncement`) is delivered; snapshots keep them.
  var unannouncedSwitch: [TopicPartition: Int64] = [:]
  /// The state the last backbone switch left, for a rollback
  /// (`checkpoint.keep_previous_backbone`); snapshots and partition states carry it.
  var keptBackbone: KeptBackbone?
  /// Whether a `backbone-prepare` record starts a re-base in the background (`serve`), which
  /// the switch then takes over; otherwise the switch re-bases (`replay`).
  public var rebasesInBackground = false
  /// The background re-base under way, if any.
  var backgroundRebase: BackgroundRebase?
  /// Loads the backbone a switch names (tests replace it); by default from its folder, checked
  /// against its sha256.
  public var backboneLoader: @Sendable (ControlRecord) throws -> Backbone = Pipeline.loadBackbone
  /// The backbone decoding threads prepare serving inputs with (`makeServingInputs()`).
  let servingBackbone: ServingBackbone
  /// The partitions the caller reads (serve: the assignment; replay: those of its range), asked
  /// only while a backbone switch waits: it happens once all of them, and every other held
  /// partition, are at their switch records. Nil: the held partitions alone.
  public var inputPartitions: (() -> [TopicPartition])?
  /// Reads a partition's records `from..<until` again, for a switch record's re-base window
  /// (`Pipeline.history(of:kafka:)`). Nil: a switch that asks for a re-base fails.
  public var history: (@Sendable (TopicPartition, Int64, Int64) throws -> [Record])?
  /// The lane (event-time clock, domain owner) of each input partition.
  let lanes: InputLanes
  /// Whether alerts wait for the next checkpoint to be sent (`serve` with a state topic): they
  /// go once the consumer group has confirmed that this process still owns its partitions, so a
  /// member paused past its session timeout does not alert for domains another member now
  /// trains. The alert history in snapshots records them at once either way.
  public var defersAlerts: Bool {
    get { alertLedger.defers }
    set { alertLedger.defers = newValue }
  }
  private var routed: [EventIngest.Routed] = []
  /// Configured fields never present, and present fields never used, in the first impressions.
  private var fieldUsage: FieldUsage
  let store: SnapshotStore?
  let publisher: KernelPublisher?
  private let alertEmitter: AlertEmitter?
  let deadLetters: DeadLetterWriter?
  let logger: Logger
  let metrics: MetricsRegistry?
  /// Per-domain quality and proxies on /metrics, refreshed at each checkpoint for the domains
  /// whose kernel changed.
  let quality: LearnerMetrics?
  /// Domains whose drift series were removed because they fell silent (`metrics.silent_after`).
  var silentDomains: Set<String> = []
  /// Records refused so far by reason, with no dead-letter topic (`logRejection`).
  private var rejectionsLogged: [String: Int] = [:]
  /// Serving files of retired domains out of reach, removed once a checkpoint's membership is
  /// confirmed (`removeServingFilesOutOfReach()`).
  var servingFilesToRemove: [String] = []
  /// Whether a record refused with no dead-letter topic is logged (`logRejection`): not by a
  /// re-base's pipeline, which reads again records the live one already refused.
  var logsRefusedRecords = true
  /// How long the steps of the newest checkpoint took (`bench serve`'s freshness breakdown).
  var lastCheckpointTimings = CheckpointTimings()
  /// The manifest of the newest snapshot this pipeline wrote, whether or not what followed it
  /// (hand-over, publication) succeeded: a start resumes from it.
  var lastWrittenSnapshot: SnapshotManifest?
  /// When the last checkpoint that returned a manifest had its kernels out (before it refreshed
  /// the quality series): the publication instant freshness is measured to.
  var lastCheckpointPublishedAt: ContinuousClock.Instant?
  /// During a checkpoint (nil otherwise): the joiner's partition blocks serialized for the
  /// snapshot, reused for the partitions' hand-over states (the joiner does not change between).
  var checkpointJoinerBlocks: [Int32: [UInt8]]?

  /// Creates a pipeline with empty state.
  ///
  /// - Throws: `ConfigError` for settings that do not parse, `LearnerError` when the kernel does
  ///   not fit the backbone.
  public init(
    configuration: Configuration, backbone: Backbone, backboneSHA256: String,
    store: SnapshotStore?, publisher: KernelPublisher?, alertEmitter: AlertEmitter?,
    deadLetters: DeadLetterWriter?, logger: Logger, metrics: MetricsRegistry?
  ) throws {
    self.configuration = configuration
    self.backbone = backbone
    self.backboneSHA256 = backboneSHA256
    trainer = try Trainer(
      backbone: backbone, kernelConfig: try configuration.kernelConfig(),
      config: configuration.trainConfig, logger: logger.child("learner"))
    assembler = ExampleAssembler(backbone: backbone.config)
    fieldUsage = FieldUsage(configured: backbone.config.fields + backbone.config.numericFields)
    policy = DriftPolicy(
      onCollapse: configuration.settings.drift.onCollapse,
      onHarm: configuration.settings.drift.onHarm)
    drift = DriftMonitor(settings: configuration.driftSettings)
    lanes = try InputLanes(topics: configuration.settings.input.topics)
    ingest = try Self.makeIngest(configuration, backbone: backbone, metrics: metrics)
    servingBackbone = ServingBackbone(trainer.servingPreparers(), config: backbone.config)
    self.store = store
    self.publisher = publisher
    self.alertEmitter = alertEmitter
    self.deadLetters = deadLetters
    self.logger = logger
    self.metrics = metrics
    quality = metrics.map {
      LearnerMetrics(registry: $0, maxDomains: configuration.settings.metrics.maxDomains)
    }
    trainer.stepDuration = quality?.stepDuration.with()
    trainer.frozenRowCounters = quality.map {
      (kept: $0.frozenRows.with("kept"), computed: $0.frozenRows.with("computed"))
    }
  }

  deinit { backgroundRebase?.cancel() }

  // MARK: - Processing

  /// Decodes, joins, routes and trains on `records`, in order.
  ///
  /// - Throws: `KafkaError` only when a rejected record cannot be handed to the dead-letter
  ///   producer (the record is not lost: the caller stops before committing past it).
  public func process(_ records: [Record]) throws {
    try switchBackboneIfReady()
    for record in records {
      if !backboneSwitch.isIdle {
        if backboneSwitch.late.contains(record.topicPartition) {
          try catchUp(
            ControlRecord.isControl(record.value)
              ? try? ControlRecord(parsing: record.value) : nil,
            in: record.topicPartition, at: record.offset
          ) { try $0.process([record]) }
          continue
        }
        if backboneSwitch.holds(record.topicPartition) {
          backboneSwitch.hold(.raw(record))
          continue
        }
      }
      if ControlRecord.isControl(record.value) {
        let control: ControlRecord
        do throws(EventRejection) {
          control = try ControlRecord(parsing: record.value)
        } catch {
          ingest.countRejection(error.reason)
          try reject(record, because: error)
          continue
        }
        try meet(control, in: record.topicPartition, at: record.offset)
        continue
      }
      let event: Event
      do throws(EventRejection) {
        event = try ingest.decode(record.value)
      } catch {
        try reject(record, because: error)
        continue
      }
      let lane = lanes.lane(of: record.topicPartition)
      if let reason = admissionRejection(of: event, lane: lane) {
        try reject(record, because: EventRejection(reason, field: timeField(reason), offset: 0))
        continue
      }
      ingest(event, lane: lane)
      accept(record.topicPartition, offset: record.offset)
    }
    retireDomainsBeyondLimit()
    backgroundRebase?.advance(to: state.offsets)
  }

  /// The wall clock in epoch milliseconds, for live input (`serve`): an event more than
  /// `event.max_future` ahead of it is refused as `too_far_future`. Nil (replays, files) bounds
  /// event time by each partition's own clock only, so history replays the same at any time.
  public var wallClock: (@Sendable () -> Int64)?

  /// Why a decoded event of `lane` may not be ingested (`EventIngest.admit`), counted in
  /// `iak_events_rejected_total`; nil when it may.
  private func admissionRejection(of event: Event, lane: Int32) -> EventRejection.Reason? {
    guard
      let reason = ingest.admit(
        event, partition: lane, wallClockMilliseconds: wallClock.map { $0() })
    else { return nil }
    ingest.countRejection(reason)
    return reason
  }

  /// The field a refusal after decoding is about: the time field, or none for a domain budget.
  private func timeField(_ reason: EventRejection.Reason) -> String? {
    reason == .newDomainBudget ? nil : ingest.decoder.schema.timeField
  }

  /// For a thread that decodes records ahead: computes the `ServingInput` of each decoded
  /// impression in a chunk (the frozen backbone's part of its serving score, which depends on
  /// its features alone) into its record, the frozen layers over the chunk's impressions at
  /// once, so that `process(_: [DecodedRecord])` only runs the kernel on it. One preparer per
  /// thread; the scores are bit for bit those computed here. After a backbone switch, each
  /// thread's preparer moves to the new backbone at its next chunk, and inputs prepared with
  /// the old one are not used (`servingInputGeneration`).
  public func makeServingInputs() -> @Sendable (inout [DecodedRecord]) -> Void {
    let preparer = servingBackbone.threadPreparer()
    return { preparer.prepare(&$0) }
  }

  /// The decoder `process(_: [Record])` uses, for a thread that decodes records ahead
  /// (`EventDecoder.decodeAhead(_:)`) for `process(_: [DecodedRecord])`.
  public var decoder: EventDecoder { ingest.decoder }

  /// Joins, routes and trains on records decoded ahead by `decoder`, in order: the same state,
  /// counts, offsets and dead letters as `process(_: [Record])` on the records themselves.
  ///
  /// - Throws: `KafkaError` only when a rejected record cannot be handed to the dead-letter
  ///   producer (the record is not lost: the caller stops before committing past it).
  public func process(_ records: [DecodedRecord]) throws {
    try switchBackboneIfReady()
    for record in records {
      if !backboneSwitch.isIdle {
        if backboneSwitch.late.contains(record.topicPartition) {
          var control: ControlRecord?
          if case .control(let read) = record.outcome { control = read }
          try catchUp(control, in: record.topicPartition, at: record.offset) {
            // Its serving input, if any, was prepared with this pipeline's backbone.
            var fed = record
            fed.servingInput = nil
            try $0.process([fed])
          }
          continue
        }
        if backboneSwitch.holds(record.topicPartition) {
          backboneSwitch.hold(.decoded(record))
          continue
        }
      }
      // Through `ingest` in place, not a copy of the decoder (which retained and released its
      // schema's collections and its metrics for every record).
      ingest.count(record.outcome)
      switch record.outcome {
      case .event(let event):
        let lane = lanes.lane(of: record.topicPartition)
        if let reason = admissionRejection(of: event, lane: lane) {
          // Its bytes were freed where it was decoded: the dead letter carries the event
          // encoded again (header iak-reencoded), which decodes to the same event.
          let original = Record(
            topic: record.topic, partition: record.partition, offset: record.offset,
            value: Array(event.jsonLine(schema: ingest.decoder.schema).utf8),
            timestampMs: record.timestampMs,
            headers: [Record.Header(name: "iak-reencoded", text: "1")])
          try reject(original, because: EventRejection(reason, field: timeField(reason), offset: 0))
          continue
        }
        let input =
          record.servingInputGeneration == servingBackbone.generation ? record.servingInput : nil
        ingest(event, lane: lane, input: input)
        accept(record.topicPartition, offset: record.offset)
      case .rejected(let rejection, let original):
        try reject(original, because: rejection)
      case .control(let control):
        try meet(control, in: record.topicPartition, at: record.offset)
      }
    }
    retireDomainsBeyondLimit()
    backgroundRebase?.advance(to: state.offsets)
  }

  /// Joins and routes one decoded event of `lane`; an impression is first scored as a serving
  /// system would score it now (`servingScore(of:lane:input:)`, from `input` when a decoding
  /// thread computed the backbone's part), and the score waits with it for its label.
  private func ingest(_ event: Event, lane: Int32, input: ServingInput? = nil) {
    if !fieldUsage.isReported, let warnings = fieldUsage.observe(event) {
      for warning in warnings { logger.warning(warning) }
    }
    let score =
      event.kind == .impression ? servingScore(of: event, lane: lane, input: input) : nil
    ingest.ingest(event, partition: lane, score: score, into: &routed)
  }

  /// What a serving system would score `impression` with at this moment: the backbone, and its
  /// known domain's kernel as it now stands (the backbone's score for a domain not known yet),
  /// served when `isServing(_:)` says so.
  func servingScore(of impression: Event, lane: Int32, input: ServingInput? = nil)
    -> ServingScore
  {
    let domain = ingest.knownDomain(of: impression)?.description
    var score = trainer.servingScore(in: domain ?? "", input: input) {
      assembler.example(for: impression, label: false, domain: domain ?? "", lane: lane)
    }
    score.servesKernel = domain.map(isServing) ?? false
    return score
  }

  /// Whether `domain`'s kernel serves now: it exists and is active (`domain.min_examples`), no
  /// drift action deactivated it, and its serving guard has seen it do no harm at serving time.
  public func isServing(_ domain: String) -> Bool {
    guard trainer.hasActiveKernel(domain) else { return false }
    return !state.book.deactivated.contains(domain) && drift.isServing(domain)
  }

  /// Sends a refused record to the dead-letter topic and moves past it.
  func reject(_ record: Record, because rejection: EventRejection) throws {
    // Only a dead letter that was handed over moves the offset past its record.
    if let deadLetters {
      try deadLetters.write(record, reason: rejection.reason.rawValue)
    } else if logsRefusedRecords {
      logRejection(of: record, rejection)
    }
    state.count(record.topicPartition) {
      $0.records += 1
      $0.rejected += 1
    }
    advance(record.topicPartition, pastOffset: record.offset)
  }

  /// Logs a record refused with no dead-letter topic to keep it (`replay`, or
  /// `input.dead_letter_topic` empty): where it was and why, for the first ten of each reason,
  /// then at the 100th, 1,000th, ... of it, so a stream of bad records cannot flood the log.
  private func logRejection(of record: Record, _ rejection: EventRejection) {
    let reason = rejection.reason.rawValue
    let count = rejectionsLogged[reason, default: 0] + 1
    rejectionsLogged[reason] = count
    var power = 100
    while power < count { power *= 10 }
    guard count <= 10 || count == power else { return }
    logger.warning(
      "record rejected (no dead-letter topic: it is only counted and logged)",
      [
        "source": record.topicPartition.description, "offset": String(record.offset),
        "reason": reason, "detail": rejection.description, "of_this_reason": String(count),
      ])
  }

  /// Moves past a decoded record and trains what its event completed.
  private func accept(_ partition: TopicPartition, offset: Int64) {
    state.count(partition) { $0.records += 1 }
    advance(partition, pastOffset: offset)
    train(&routed, from: partition)
  }

  /// Makes the offset after `offset` the next to read of `partition`.
  func advance(_ partition: TopicPartition, pastOffset offset: Int64) {
    state.advance(partition, lane: lanes.lane(of: partition), to: offset + 1)
  }

  /// Closes every open batch and expires every waiting impression (end of a bounded replay that
  /// asked for it): the state then no longer depends on input that never comes.
  public func flush() {
    ingest.flush(into: &routed)
    train(&routed, from: nil)
    observe(trainer.flush())
  }

  /// Closes and trains every open batch, leaving the joiner's waiting impressions where they
  /// are (`train.close_at_checkpoint`, at each checkpoint): what is trained no longer waits for
  /// its partition's event time to move.
  func closeOpenBatches() {
    observe(trainer.flush())
  }

  /// Trains on `batch`, counted for `partition` (nil: each example's own partition by lane).
  private func train(_ batch: inout [EventIngest.Routed], from partition: TopicPartition?) {
    for example in batch {
      let route = example.route
      let domain = route.domain.description
      if route.isNew, let parent = route.parent?.description, trainer.kernel(for: parent) != nil,
        trainer.kernel(for: domain) == nil
      {
        trainer.startDomain(domain, warmFrom: parent)
      }
      if example.use.trains {
        state.count(partition ?? state.partition(ofLane: example.partition)) {
          $0.examples += 1
          if example.label { $0.positives += 1 }
        }
      }
      if example.use.evaluates, let score = example.score {
        servingScoreSink?(example.impression.id, domain, example.label, score)
      }
      var learnerExample = assembler.example(
        for: example.impression, label: example.label, domain: domain, lane: example.partition)
      learnerExample.servingScore = example.score
      learnerExample.use = example.use
      learnerExample.clickDelayMs = example.clickDelayMilliseconds
      learnerExample.correctsProvisional = example.correctsProvisional
      learnerExample.frozenRow = example.frozenRow
      if trainedImpressionSink != nil && example.use.trains && !example.correctsProvisional {
        untrainedImpressionTimes[domain, default: []].append(example.impression.timeMilliseconds)
      }
      observe(trainer.process(learnerExample))
    }
    batch.removeAll(keepingCapacity: true)
  }

  private func observe(_ reports: [BatchReport]) {
    for report in reports {
      if let sink = trainedImpressionSink, report.size > 0,
        let times = untrainedImpressionTimes.removeValue(forKey: report.domain)
      {
        sink(times)
      }
      guard let kernel = trainer.kernel(for: report.domain),
        let proxies = trainer.proxies(for: report.domain)
      else { continue }
      // The example detectors (serving guard, harm, logloss and click-rate drift) see what a
      // serving system saw: the scores made when each impression arrived.
      let examples = zip(report.servingScores, report.servingLabels).compactMap {
        score, label -> DriftExample? in
        guard let score else { return nil }
        return DriftExample(
          kernelLogit: score.kernelLogit, backboneLogit: score.backboneLogit, label: label)
      }
      let observation = DriftObservation(
        step: kernel.stepCount, eventTimeMs: report.lastEventTimeMs,
        kernelVersion: state.book.kernelVersions[report.domain] ?? 0,
        activeUnits: proxies.activeUnits,
        relativeDecoderNorm: proxies.relativeDecoderNorm,
        // A domain that never had a batch of 2+ rows has no mu variance yet.
        muVariance: proxies.muVarianceBatches == 0 ? .infinity : proxies.muVariance,
        meanKL: proxies.meanKL, examples: examples)
      let events = drift.observe(observation, of: report.domain)
      guard !events.isEmpty else { continue }
      let firing = drift.firingDetectors(of: report.domain)
      // One action per observation, the strongest asked for (DriftPolicy): two events asking
      // for a rollback must not roll back twice.
      guard let strongest = policy.action(for: events, firing: firing) else { continue }
      let outcome = apply(strongest, to: report.domain, after: events)
      var counted = false
      for event in events {
        let requested = policy.action(for: event, firing: firing)
        let result = requested == .alert ? DriftActionOutcome(requested: .alert) : outcome
        let alert = DeferredAlert(
          event: event, action: result.taken, detail: result.detail,
          countsAction: requested == .alert || !counted)
        if let now = alertLedger.record(event, outcome: result, alert: alert) { send(now) }
        if requested != .alert { counted = true }
      }
    }
  }

  /// Sends one alert through the emitter (topic, webhook, metrics); a failure is logged.
  func send(_ alert: DeferredAlert) {
    do {
      try emit(alert)
    } catch {
      logger.error("could not send an alert", ["error": "\(error)"])
    }
  }

  /// Hands one alert to the emitter, through `transaction` when given (a checkpoint's).
  /// - Throws: `KafkaError` when the producer refused it.
  func emit(_ alert: DeferredAlert, via transaction: KafkaProducer? = nil) throws(KafkaError) {
    try alertEmitter?.emit(
      alert.event, action: alert.action, detail: alert.detail,
      countsAction: alert.countsAction, via: transaction)
  }

  /// Compares the training settings `manifest` recorded with the configured ones: a change
  /// that alters what the stored state means is refused, any other is logged.
  ///
  /// - Throws: `ServiceError` (`stateMismatch`) naming each setting that changes the state's
  ///   meaning, its recorded and configured values, and the fix.
  func checkSettings(of manifest: SnapshotManifest) throws {
    let configured = TrainingSettings(configuration)
    guard let recorded = TrainingSettings(recorded: manifest.extras[TrainingSettings.extrasKey])
    else {
      if manifest.configurationDigest != configurationDigest {
        logger.info(
          "the configuration differs from the one the snapshot was written under (its digest); "
            + "the snapshot predates recorded training settings, so what changed cannot be named",
          ["snapshot": "\(manifest.version)"])
      }
      return
    }
    let changes = recorded.changes(to: configured)
    let refused = changes.filter(\.changesMeaning)
    guard refused.isEmpty else {
      throw ServiceError(
        .stateMismatch,
        "snapshot \(manifest.version) was written under settings that give its state another "
          + "meaning than the configured ones: "
          + refused.map(\.description).joined(separator: ", ")
          + "; set them back to the recorded values to continue from it, or start with an "
          + "empty checkpoint.dir (move the folder away) to train anew")
    }
    if !changes.isEmpty {
      logger.warning(
        "restoring a snapshot written under other training settings; training goes on with "
          + "the configured ones",
        [
          "snapshot": "\(manifest.version)",
          "changed": changes.map(\.description).joined(separator: ", "),
        ])
    }
  }

  /// sha256 of every setting, recorded in snapshots.
  var configurationDigest: String { digest(of: ConfigSchema.keys) }

  /// sha256 of `keys`' values, one `name=value` line each.
  func digest(of keys: [ConfigKey]) -> String {
    let text = keys.map { "\($0.name)=\(configuration.string($0.name))" }
      .joined(separator: "\n")
    return SHA256.hexDigest(of: Array(text.utf8))
  }
}
