import Base
import Checkpoint
import Foundation
import Observability
import Stream
import Synchronization

/// The training thread of `serve`: takes chunks of records from the queue, runs them through
/// the pipeline, and checkpoints (snapshot, publish, then commit) every `checkpoint.interval`
/// and whenever the consumer thread asks (rebalance, shutdown).
///
/// Its lifecycle is a `TrainingLifecycle` value: the thread asks it what to do at each event
/// and performs the answer; other threads read it, or wait for it to end (`waitUntilEnded`).
///
/// `@unchecked Sendable`: `pipeline` and the private variables are used only by the thread
/// running `run()`; other threads reach the loop through `queue` and the locked `processed`,
/// `lifecycle` and `covered`.
final class TrainingLoop: @unchecked Sendable {
  /// The pipeline, owned by the training thread once `run()` starts.
  let pipeline: Pipeline
  /// The pipeline's decoder, which the consumer thread decodes records with before queueing
  /// them (`EventDecoder` is immutable and `Sendable`).
  let decoder: EventDecoder
  /// Computes a decoded impression's `ServingInput` on the consumer thread
  /// (`Pipeline.makeServingInputs()`), which otherwise idles while the training thread works.
  let prepareServingInput: @Sendable (inout [DecodedRecord]) -> Void
  /// What a benchmark watches of the loop (none in service).
  private let observer: (any TrainingObserver)?
  private let source: any RecordSource
  private let queue: RecordQueue
  private let metrics: ServeMetrics
  private let logger: Logger
  private let interval: CheckpointInterval
  private let stateTopic: PartitionStateTopic?
  private let health: HealthState?
  private let processed: Mutex<[TopicPartition: Int64]>
  /// Where the loop is; changed only by the thread running `run()`.
  private let lifecycle = WaitableState(TrainingLifecycle())
  /// Set at the end of the input (`completesASwitchBeforeStopping()`): a backbone switch whose
  /// partitions all wait is made before the final checkpoint, its re-base waited for.
  private let completesASwitchAtStop = Atomic<Bool>(false)
  private var sinceCheckpoint = 0
  /// Whether state changed without records (a partition taken over or released) since the
  /// newest snapshot.
  private var isStateChanged = false
  /// The newest snapshot's offsets while committing them failed (retried at every interval,
  /// also when no record arrives).
  private var uncommitted: [TopicPartition: Int64]?
  /// When the newest checkpoint started (a timed interval runs from start to start) and when it
  /// ended (at least half an interval of training follows a checkpoint, however long it took).
  private var lastCheckpoint = ContinuousClock.now
  private var lastCheckpointEnded = ContinuousClock.now
  private var retryAt: ContinuousClock.Instant?
  /// Whether the newest checkpoint was kept to the local snapshot because the consumer group did
  /// not confirm this process as a member (`MembershipNotConfirmed`).
  private var isMembershipUnconfirmed = false
  private var retryDelay = Duration.seconds(1)
  /// Whether the newest snapshot's publish or commit may not have happened (state restored
  /// at start-up, or a commit that failed), so the next checkpoint runs even with nothing new
  /// trained.
  private var owesDelivery: Bool
  /// What the newest snapshot on disk covers (restored or written by this run), if any.
  private let covered: Mutex<CoveredState?>
  /// Why the latest checkpoint failed, while it has not succeeded since.
  private var checkpointError: String?
  /// What to do when a partition's offsets went backwards below the trained state's.
  private let offsetResetPolicy: OffsetResetPolicy
  /// The log start and end offsets of a partition (nil: unknown), to tell records read again
  /// (after a partition was lost and regained) from a topic created again.
  private let watermarks: (@Sendable (TopicPartition) -> (low: Int64, high: Int64)?)?
  /// Records skipped as already trained and not yet logged.
  private var skippedRecords = 0
  /// Chunks trained since the newest publication (for `iak_freshness_seconds`).
  private var arrivals: [(instant: ContinuousClock.Instant, records: Int)] = []

  /// The most chunks `arrivals` keeps: checkpoints failing for hours (a full disk) would
  /// otherwise grow it by a chunk per batch of records until one succeeds.
  static let arrivalsKept = 4_096

  /// `arrivals` in half as many entries: each pair becomes one with both counts, at the earlier
  /// instant (their freshness then reads as the older chunk's: never better than it was).
  static func halved(_ arrivals: [(instant: ContinuousClock.Instant, records: Int)]) -> [(
    instant: ContinuousClock.Instant, records: Int
  )] {
    stride(from: 0, to: arrivals.count, by: 2).map { index in
      index + 1 < arrivals.count
        ? (arrivals[index].instant, arrivals[index].records + arrivals[index + 1].records)
        : arrivals[index]
    }
  }

  /// A quiet service refreshes `iak_snapshot_last_success_timestamp_seconds` this often.
  static let idleRefresh = Duration.seconds(10)

  /// Creates the loop around a restored pipeline; with `owesDelivery` (state restored from a
  /// snapshot) the first checkpoint publishes and commits even if nothing new was trained.
  /// `restored` is the snapshot the pipeline was restored from (nil: it starts empty).
  init(
    pipeline: Pipeline, source: any RecordSource, queue: RecordQueue, metrics: ServeMetrics,
    interval: CheckpointInterval, logger: Logger, observer: (any TrainingObserver)? = nil,
    stateTopic: PartitionStateTopic? = nil, owesDelivery: Bool = false,
    health: HealthState? = nil, restored: SnapshotManifest? = nil,
    offsetResetPolicy: OffsetResetPolicy = .fail,
    watermarks: (@Sendable (TopicPartition) -> (low: Int64, high: Int64)?)? = nil
  ) {
    self.offsetResetPolicy = offsetResetPolicy
    self.watermarks = watermarks
    self.stateTopic = stateTopic
    self.health = health
    self.owesDelivery = owesDelivery
    covered = Mutex(
      restored.map {
        CoveredState(version: $0.version, offsets: $0.offsets, records: pipeline.counts.records)
      })
    self.pipeline = pipeline
    decoder = pipeline.decoder
    prepareServingInput = pipeline.makeServingInputs()
    // A backbone switch waits for every assigned partition, read yet or not. Weak: the
    // pipeline must not keep the source (and its Kafka consumer) alive after the loop.
    pipeline.inputPartitions = { [weak source] in source?.assignment ?? [] }
    self.observer = observer
    self.source = source
    self.queue = queue
    self.metrics = metrics
    self.interval = interval
    self.logger = logger
    processed = Mutex(pipeline.offsets)
  }

  /// The partitions whose state the trained pipeline holds (mirrored after each chunk).
  var heldPartitions: [TopicPartition] { processed.withLock { $0.keys.sorted() } }

  /// Where the loop is.
  var state: TrainingLifecycle.State { lifecycle.current.state }

  /// Whether `run()` has ended (false before it starts).
  var hasEnded: Bool { !lifecycle.current.isActive }

  /// Why the loop stopped, or is stopping, on its own, or why its final snapshot failed, if
  /// either happened.
  var failure: ServeFailure? { lifecycle.current.failure }

  /// Waits until `run()` has ended, at most `timeout` (nil: without limit); returns whether it
  /// has.
  @discardableResult
  func waitUntilEnded(timeout: Duration? = nil) -> Bool {
    lifecycle.wait(until: { !$0.isActive }, timeout: timeout)
  }

  /// What the newest snapshot on disk covers: restored at start-up or written since.
  var coveredState: CoveredState? { covered.withLock { $0 } }

  /// The next offset to read of `partition` in the trained state, if it has been read before.
  func nextOffset(of partition: TopicPartition) -> Int64? {
    processed.withLock { $0[partition] }
  }

  /// Runs until a `.stop` request or a failure.
  func run() {
    guard lifecycle.update({ $0.started() }) == .serve else { return }
    while case .running = state {
      // While a backbone switch waits for its re-base, what the partitions read after their
      // switch records is held in memory: at the queue's capacity the loop takes no more
      // records (the consumer then pauses), only requests that come first. (While a partition
      // has yet to reach its record, records go on being taken: it needs them to get there.)
      if pipeline.heldRecordCount >= queue.capacity && pipeline.everyPartitionWaits {
        if let request = queue.nextRequest() {
          answer(request)
        } else {
          Thread.sleep(forTimeInterval: 0.05)
          switchBackboneIfReady()
        }
        if case .running = state, isDue { checkpoint(reason: "interval") }
        continue
      }
      // The bounded wait wakes the loop for its timers (the checkpoint interval, a retry).
      switch queue.next(timeout: .milliseconds(100)) {
      case .records(let records, let arrivedAt)?:
        train(records, arrivedAt: arrivedAt)
      case .request(let request)?:
        answer(request)
      case nil:
        switchBackboneIfReady()
      }
      if case .running = state, isDue { checkpoint(reason: "interval") }
    }
  }

  /// Runs a chunk through the pipeline; a failure stops the loop.
  private func train(_ queued: [DecodedRecord], arrivedAt: ContinuousClock.Instant) {
    guard lifecycle.current.recordsArrived() == .train else { return }
    metrics.queued.set(Double(queue.count))
    guard let records = untrained(queued) else { return }
    do {
      try pipeline.process(records)
    } catch {
      let failure = ServeFailure(
        .training, "a rejected record could not be handed to the dead-letter topic: \(error)")
      logger.error("stopping: \(failure.message)")
      remember(records, arrivedAt: arrivedAt)
      fail(failure)
      return
    }
    remember(records, arrivedAt: arrivedAt)
  }

  /// Makes a backbone switch whose partitions all wait, once its background re-base has
  /// reached them (`Pipeline.switchBackboneIfReady()`), while no record comes; a failure stops
  /// the loop.
  private func switchBackboneIfReady(waitingForTheRebase: Bool = false) {
    guard case .running = state else { return }
    let backbone = pipeline.backboneSHA256
    do {
      try pipeline.switchBackboneIfReady(waitingForTheRebase: waitingForTheRebase)
      if pipeline.backboneSHA256 != backbone {
        noteOffsets()
        isStateChanged = true
      }
    } catch {
      let failure = ServeFailure(.training, "\(error)")
      logger.error("stopping: \(failure.message)")
      fail(failure)
    }
  }

  /// Makes the stop that follows complete a backbone switch whose partitions all wait (the end
  /// of the input: nothing more will come, and a stop before it would leave it to every
  /// later start).
  func completesASwitchBeforeStopping() {
    completesASwitchAtStop.store(true, ordering: .releasing)
  }

  /// Does what `request` asks and answers it.
  private func answer(_ request: ServeRequest) {
    switch request.kind {
    case .checkpoint(let reason):
      checkpoint(reason: reason)
      request.complete()
    case .stop:
      if completesASwitchAtStop.load(ordering: .acquiring) {
        switchBackboneIfReady(waitingForTheRebase: true)
      }
      if case .checkpoint(let reason) = lifecycle.update({ $0.stopRequested() }) {
        drain(reason: reason)
      }
      request.complete()
    case .adopt(let state):
      do {
        let held = pipeline.offsets[state.partition]
        try pipeline.adopt(state)
        logger.info(
          "partition state taken over from the state topic",
          [
            "partition": state.partition.description, "offset": "\(state.nextOffset)",
            "held_offset": held.map(String.init) ?? "none",
            "domains": "\(pipeline.domains(of: state.partition).count)",
          ])
        noteOffsets()
        isStateChanged = true
        request.complete()
      } catch {
        request.fail("\(error)")
      }
    case .rewind(let partition, let offset):
      pipeline.rewind(partition, to: offset)
      noteOffsets()
      isStateChanged = true
      request.complete()
    case .release(let partitions):
      for partition in partitions { pipeline.release(partition) }
      noteOffsets()
      isStateChanged = true
      request.complete()
    }
  }

  /// Stops the loop after `failure` (already logged), keeping what was trained in a snapshot.
  private func fail(_ failure: ServeFailure) {
    if case .checkpoint(let reason) = lifecycle.update({ $0.trainingFailed(failure) }) {
      drain(reason: reason)
    }
  }

  /// Takes the final checkpoint, again while the group does not confirm this process as a
  /// member (a rebalance or an outage may be ending), and ends the loop.
  private func drain(reason: String) {
    while true {
      let isDurable = checkpoint(reason: reason)
      // Worked out on a copy and stored once done: whoever waits for the end (`serve`'s
      // shutdown) then sees this loop's last lines logged.
      var next = lifecycle.current
      let action = next.finalCheckpointEnded(
        isDurable: isDurable, isMembershipUnconfirmed: isMembershipUnconfirmed,
        finalSnapshotFailure: ServeFailure(.finalSnapshot, finalCheckpointFailure()))
      switch action {
      case .checkpointAgain(let pause):
        lifecycle.update { $0 = next }
        if !isDurable {
          logger.warning(
            "the final checkpoint failed; taking it again before exiting",
            [
              "attempt": "\(next.finalCheckpointAttempt)",
              "of": "\(TrainingLifecycle.shutdownConfirmAttempts)",
              "pause_seconds": Logger.seconds(pause),
            ])
        }
        // A pause before asking the group again, not a poll: nothing else can answer sooner.
        Thread.sleep(forTimeInterval: pause.inSeconds)
      case .end(let warnsLocalOnly, let attempts, let failure):
        if warnsLocalOnly {
          logger.warning(
            "exiting with the final checkpoint in the local snapshot only: the consumer group "
              + "did not confirm this process as a member, so its kernels, state and offsets "
              + "were not written to Kafka; the next start publishes them if it keeps the "
              + "partitions", ["attempts": "\(attempts)"])
        }
        if let failure { logger.error(failure.message) }
        lifecycle.update { $0 = next }
        return
      case .ignore:
        return
      }
    }
  }

  /// `records` without those the trained state already covers. Partitions lost and regained
  /// (a session that timed out) restart at the trained state's offsets while records read
  /// before the loss may still wait in the queue: those offsets arrive twice and are trained
  /// once.
  ///
  /// Records below the trained state's offset of a partition whose end now lies below it are
  /// not read again: the topic was deleted and created again (librdkafka reset to its start),
  /// and `--on-offset-reset` decides (see `RebalanceResponder`). Returns nil when that stops
  /// the service (`fail`), after the final checkpoint.
  private func untrained(_ records: [DecodedRecord]) -> [DecodedRecord]? {
    let offsets = pipeline.offsets
    // Almost always nothing is behind: the records go on as they are, without a copy.
    let kept =
      Self.holdsCovered(records, offsets: offsets)
      ? withoutCovered(records, offsets: offsets) : records
    guard let fresh = kept else { return nil }
    // A line when a run of skipped records starts, and one with their count when it ends.
    if fresh.count < records.count && skippedRecords == 0 {
      logger.info(
        "skipping records the trained state already covers (read again after a rebalance)")
    }
    skippedRecords += records.count - fresh.count
    if skippedRecords > 0 && !fresh.isEmpty {
      logger.info(
        "skipped records the trained state already covers", ["records": "\(skippedRecords)"])
      skippedRecords = 0
    }
    return fresh
  }

  /// `records` without those below their partition's offset in `offsets`, after the
  /// partitions whose log now ends below that offset were dealt with as `--on-offset-reset`
  /// says; nil when that stops the service.
  private func withoutCovered(
    _ records: [DecodedRecord], offsets: [TopicPartition: Int64]
  ) -> [DecodedRecord]? {
    var offsets = offsets
    let behind = Set(
      records.filter { $0.offset < offsets[$0.topicPartition] ?? .min }.map(\.topicPartition))
    for partition in behind.sorted() {
      guard let held = offsets[partition], let lookup = watermarks,
        let (low, high) = lookup(partition), high < held
      else { continue }
      let details: Logger.Metadata = [
        "partition": partition.description, "state_offset": "\(held)", "log_start": "\(low)",
        "log_end": "\(high)", "on_offset_reset": offsetResetPolicy.rawValue,
      ]
      switch offsetResetPolicy {
      case .fail:
        let failure = ServeFailure(
          .training,
          "the offsets of input partition \(partition) went backwards while serving: it ends at "
            + "offset \(high) (log start \(low)) but the trained state has read it up to offset "
            + "\(held), so the topic was deleted and created again, or truncated; its records "
            + "are new and none was trained or skipped. Start again with --on-offset-reset "
            + "resume-from-snapshot to keep the trained state and read the partition from offset "
            + "\(low), or --on-offset-reset start-over to forget the partition's state and train "
            + "it anew from offset \(low)")
        logger.error("stopping: \(failure.message)")
        fail(failure)
        return nil
      case .resumeFromSnapshot:
        logger.warning(
          "the partition's offsets went backwards (topic created again?); keeping the trained "
            + "state and reading it from its log start", details)
        pipeline.rewind(partition, to: low)
      case .startOver:
        logger.warning(
          "the partition's offsets went backwards (topic created again?); forgetting its "
            + "trained state and training it anew from its log start", details)
        pipeline.release(partition)
        pipeline.rewind(partition, to: low)
      }
      isStateChanged = true
      offsets = pipeline.offsets
    }
    return records.filter { $0.offset >= offsets[$0.topicPartition] ?? .min }
  }

  /// Whether any of `records` lies below its partition's offset in `offsets` (one lookup per
  /// run of records of one partition).
  private static func holdsCovered(
    _ records: [DecodedRecord], offsets: [TopicPartition: Int64]
  ) -> Bool {
    var partition: TopicPartition?
    var next = Int64.min
    for record in records {
      if record.topicPartition != partition {
        partition = record.topicPartition
        next = offsets[record.topicPartition] ?? .min
      }
      if record.offset < next { return true }
    }
    return false
  }

  private func remember(_ records: [DecodedRecord], arrivedAt: ContinuousClock.Instant) {
    let count = records.count
    metrics.processed.increment(by: Double(count))
    sinceCheckpoint += count
    arrivals.append((arrivedAt, count))
    if arrivals.count > Self.arrivalsKept { arrivals = Self.halved(arrivals) }
    observer?.trained(records, arrivedAt: arrivedAt, at: .now)
    noteOffsets()
  }

  /// Mirrors the pipeline's offsets for the consumer thread (`nextOffset(of:)`).
  private func noteOffsets() {
    let offsets = pipeline.offsets
    processed.withLock { $0 = offsets }
  }

  private var isDue: Bool {
    let now = ContinuousClock.now
    if let retryAt { return now >= retryAt }
    switch interval {
    case .events(let count):
      return sinceCheckpoint >= count
        || (sinceCheckpoint == 0 && now - lastCheckpoint >= Self.idleRefresh)
    case .milliseconds(let milliseconds):
      return now - lastCheckpoint >= .milliseconds(milliseconds)
        && now - lastCheckpointEnded >= .milliseconds(milliseconds / 2)
    }
  }

  /// How many partitions' checkpoint transactions run at once: each mostly waits on the broker
  /// (deliveries, then the commit), each partition has a producer of its own, and the topic
  /// writer and publisher are safe to call from several threads.
  static let transactionWidth = 8

  /// The message of a final checkpoint that failed: why, and what the newest snapshot on disk
  /// covers (what the next start resumes from).
  private func finalCheckpointFailure() -> String {
    let trained = pipeline.counts.records
    let why = checkpointError ?? "unknown error"
    guard let covered = coveredState else {
      return "the final snapshot failed (\(why)): no snapshot covers the \(trained) records "
        + "read; the next start reads them again from the beginning; free space or fix "
        + "checkpoint.dir"
    }
    if covered.records == trained {
      return "the final snapshot, version \(covered.version), is on disk with all \(trained) "
        + "records read, but what follows it failed (\(why)): its kernels, partition states and "
        + "offsets were not all written to Kafka; the next start resumes from it and sends "
        + "them, unless another member took its partitions over meanwhile (that member reads "
        + "them again from the state it finds on the state topic)"
    }
    return "the final snapshot failed (\(why)): the newest snapshot on disk, version "
      + "\(covered.version), covers \(covered.records) of the \(trained) records read, up to "
      + "offsets \(covered.offsetsDescription); the next start reads the rest again; free "
      + "space or fix checkpoint.dir"
  }

  /// Snapshot, publish, then commit the snapshot's offsets of the partitions still owned.
  /// A failure keeps all state, is logged and counted, and is retried with a growing delay.
  /// Returns whether every state trained is now in a snapshot on disk.
  @discardableResult
  private func checkpoint(reason: String) -> Bool {
    let started = ContinuousClock.now
    if sinceCheckpoint == 0 && retryAt == nil && !isStateChanged && !owesDelivery {
      // Everything trained is already in the newest snapshot.
      if let uncommitted { commit(uncommitted) }
      lastCheckpoint = started
      lastCheckpointEnded = ContinuousClock.now
      metrics.lastSnapshot.set(Date().timeIntervalSince1970)
      health?.markCheckpointed()
      return true
    }
    do {
      let milliseconds = Int64(Date().timeIntervalSince1970 * 1000)
      // Only owned partitions go to the state topic: a lost one may already be another
      // member's, whose newer state must not be overwritten.
      // A state that cannot go to the state topic (a chunk refused by the broker, the
      // topic unavailable) does not stop the checkpoint: the snapshot, publication and commit
      // go on, the failure is logged and counted, and the state is written again next time. A
      // member taking the partition over meanwhile starts from the older state on the topic and
      // reads again from its offset.
      // Outside a rebalance, the group confirms first that this process is still a member:
      // one paused past its session timeout and resumed must not write over the newer state of
      // the member that took its partitions. A rebalance's revoke comes while this process
      // still owns the partitions (no one gets them before it returns), and the coordinator is
      // between generations then, so it is not asked.
      let revocations = source.revocationCount
      let owned = source.assignment
      let confirm: (() throws -> Void)? =
        reason == "rebalance"
        ? nil
        : { [source] in
          try source.confirmMembership(for: owned, heldAtRevocation: revocations)
        }
      let handOver = stateTopic.map { topic in
        Pipeline.HandOver(
          partitions: Set(owned), confirmMembership: confirm,
          transactional: topic.transactions.map { transactions in
            Pipeline.HandOver.Transactional(
              run: { try transactions.run($0, $1) },
              writeState: { state, producer in
                try topic.write(encoded: CollectionOfOne(state), via: producer)
              },
              width: Self.transactionWidth)
          }
        ) { state in
          do throws(PartitionStateTopic.WriteFailure) {
            try topic.write([state])
            return true
          } catch {
            self.logger.error(
              "partition state not handed over; the checkpoint goes on and it is written again "
                + "at the next one", ["error": "\(error)"])
            return false
          }
        }
      }
      guard
        let manifest = try pipeline.checkpoint(
          createdAtMilliseconds: milliseconds, handOver: handOver)
      else { return true }
      covered.withLock {
        $0 = CoveredState(
          version: manifest.version, offsets: manifest.offsets, records: pipeline.counts.records)
      }
      checkpointError = nil
      // The kernels were out before the checkpoint refreshed its quality series.
      let published = pipeline.lastCheckpointPublishedAt ?? ContinuousClock.now
      for arrival in arrivals {
        metrics.freshness.observe((published - arrival.instant).inSeconds, count: arrival.records)
      }
      arrivals.removeAll(keepingCapacity: true)
      let publishedMilliseconds = Int64(Date().timeIntervalSince1970 * 1000)
      metrics.snapshots.increment()
      metrics.lastSnapshot.set(Date().timeIntervalSince1970)
      metrics.snapshotSeconds.observe((published - started).inSeconds)
      logger.info(
        "snapshot written and published",
        [
          "version": "\(manifest.version)", "reason": reason,
          "records": "\(sinceCheckpoint)", "seconds": Self.format(published - started),
        ])
      sinceCheckpoint = 0
      isMembershipUnconfirmed = false
      isStateChanged = false
      // Kernels of partitions held but not owned just now (lost, perhaps coming back) were
      // not sent: a later checkpoint owes them even if nothing new is read.
      owesDelivery = !pipeline.book.undelivered.isEmpty
      retryAt = nil
      retryDelay = .seconds(1)
      lastCheckpoint = started
      // The spacing of checkpoints counts from the end of this one, quality series included.
      lastCheckpointEnded = ContinuousClock.now
      health?.markCheckpointed()
      let committing = ContinuousClock.now
      commit(manifest.offsets)
      if let observer {
        var memory = pipeline.trainer.domainMemory
        memory.driftBytes = pipeline.drift.windowHeldBytes
        var timings = pipeline.lastCheckpointTimings
        timings.commit = (ContinuousClock.now - committing).inSeconds
        observer.published(
          at: published, milliseconds: publishedMilliseconds, checkpointStartedAt: started,
          timings: timings, domainMemory: memory)
      }
      return true
    } catch let error as MembershipNotConfirmed {
      isMembershipUnconfirmed = true
      // Not a failure of this process's state: the snapshot is on disk. Tried again soon; a
      // lost assignment reaches the consumer meanwhile and the partitions are released.
      metrics.membershipNotConfirmed.increment()
      retryAt = ContinuousClock.now + .seconds(1)
      logger.warning(
        "checkpoint kept to the local snapshot: the consumer group did not confirm this "
          + "process as a member, so nothing went to the state, kernels or alert topics",
        ["reason": reason, "error": error.reason])
      return true
    } catch {
      checkpointError = "\(error)"
      // The newer fact: this snapshot failed, whatever the group said of the one before.
      isMembershipUnconfirmed = false
      // A failure after the snapshot was written (hand-over, publication) leaves it on disk:
      // a start resumes from it.
      if let written = pipeline.lastWrittenSnapshot,
        written.version > coveredState?.version ?? .min
      {
        covered.withLock {
          $0 = CoveredState(
            version: written.version, offsets: written.offsets, records: pipeline.counts.records)
        }
      }
      health?.markCheckpointFailed("\(error)")
      metrics.snapshotFailures.increment()
      retryAt = ContinuousClock.now + retryDelay
      logger.error(
        "checkpoint failed; all state is kept, offsets are not committed, and it is retried",
        ["reason": reason, "error": "\(error)", "retry_in_seconds": Logger.seconds(retryDelay)])
      retryDelay = min(retryDelay * 2, .seconds(60))
      return false
    }
  }

  private func commit(_ offsets: [TopicPartition: Int64]) {
    let owned = Set(source.assignment)
    let committing = offsets.filter { owned.contains($0.key) }
    do {
      try source.commit(committing)
      // Offsets of partitions held but not owned just now wait until they are owned again, or
      // are dropped once the partitions are released.
      let held = Set(pipeline.heldPartitions)
      let waiting = offsets.filter { !owned.contains($0.key) && held.contains($0.key) }
      uncommitted = waiting.isEmpty ? nil : waiting
    } catch {
      uncommitted = offsets
      metrics.commitFailures.increment()
      logger.warning(
        "offset commit failed; the snapshot holds the offsets, and the commit is tried again at the next interval",
        ["error": error.description])
    }
  }

  /// What one snapshot covers: its version, offsets, and the records read up to them.
  struct CoveredState: Sendable {
    /// The snapshot's version.
    var version: Int
    /// The next offset to read of each partition.
    var offsets: [TopicPartition: Int64]
    /// Records read up to those offsets (all partitions).
    var records: Int

    /// `topic/partition=offset` pairs, in partition order.
    var offsetsDescription: String {
      offsets.isEmpty
        ? "(none)"
        : offsets.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
          .joined(separator: ",")
    }
  }

  static func format(_ duration: Duration) -> String {
    String(format: "%.3f", duration.inSeconds)
  }
}
