import Base
import Checkpoint
import Foundation
import Learner
import Stream
import Synchronization

/// A checkpoint, as its steps: number the changed kernels, write the snapshot (all state with
/// the offsets it covers), confirm membership, hand the partitions' states over with their
/// kernels and alerts, publish what is left. The caller commits the returned offsets.
extension Pipeline {
  /// Writes a snapshot of all state with the offsets it covers, then publishes every kernel that
  /// changed since it was last published. Returns the manifest; the caller commits its offsets.
  /// With `train.close_at_checkpoint`, every open batch is closed and trained first.
  ///
  /// With `handOver` (scale-out through the state topic), the state of every partition of
  /// `handOver.partitions` that moved on since it was last handed over goes to
  /// `handOver.write`, one at a time, after the local snapshot and before
  /// publishing and committing: the local store is never older than what this process
  /// wrote to the topic (a restart keeps its own state, and takes a partition's state from the
  /// topic only when another member moved it on); it carries the kernel versions this
  /// checkpoint allocated and the domains not yet known to be delivered (a process taking a
  /// partition over publishes those again under the same numbers unless they changed, and
  /// numbers on from there). With `handOver.confirmMembership`, the group is asked first and
  /// nothing goes to a shared topic unless it confirms; and only the kernels and alerts of the
  /// domains of owned partitions go out (`ownedDomainFilter(_:)`).
  ///
  /// - Throws: `KafkaError` when a dead letter of the covered records is still undelivered
  ///   (nothing is written), `SnapshotStoreError` when the snapshot could not be written (the
  ///   previous one stays), `MembershipNotConfirmed` when the group did not confirm this
  ///   process (only the local snapshot is written), `KernelPublisher.Failure` when a kernel was
  ///   not delivered.
  @discardableResult
  public func checkpoint(
    createdAtMilliseconds: Int64, handOver: HandOver? = nil
  ) throws -> SnapshotManifest? {
    var lap = ContinuousClock.now
    lastCheckpointTimings = CheckpointTimings()
    lastCheckpointPublishedAt = nil
    func lapSeconds() -> Double {
      let now = ContinuousClock.now
      defer { lap = now }
      return (now - lap).inSeconds
    }
    if configuration.settings.train.closesAtCheckpoint { closeOpenBatches() }
    lastCheckpointTimings.close = lapSeconds()
    checkpointJoinerBlocks = [:]
    defer { checkpointJoinerBlocks = nil }
    // The snapshot's offsets cover every rejected record: their dead letters must be on the topic.
    try deadLetters?.settle(timeout: .seconds(30))
    lastCheckpointTimings.settle = lapSeconds()
    guard let store else { return nil }
    var snapshot = encodeSnapshot()
    lastCheckpointTimings.encode = lapSeconds()
    // With transactions and `checkpoint.write_alongside`, what they will carry (each owned
    // partition's state, encoded) is built here while the snapshot is written on a thread of
    // its own: nothing goes to a shared topic before the write returns, and the local store is
    // never older than the topic. Otherwise it is built once the write returned. The states
    // carry the book as this snapshot numbers it; a write that fails puts the book back.
    let previousBook = state.book
    state.book = snapshot.book
    var outgoing = Outgoing(
      kernels: snapshot.items, alerts: alertLedger.waiting, isOwned: ownedDomainFilter(handOver))
    var plans: [TransactionPlan]?
    let written: Result<SnapshotWriteReport, SnapshotStoreError>
    if let handOver, handOver.transactional != nil,
      configuration.settings.checkpoint.writesAlongside
    {
      var planning = 0.0
      (written, lastCheckpointTimings.write) = BlockingFanOut.alongside(
        named: "iak-ckpt-write", { [snapshot] in snapshot.write(to: store) }
      ) {
        plans = transactionPlans(
          handOver, outgoing: &outgoing, createdAtMilliseconds: createdAtMilliseconds,
          taking: SnapshotTensors(snapshot.payload.tensors, domains: Set(trainer.domains)))
        planning = lapSeconds()
      }
      lap = .now
      lastCheckpointTimings.handOver = planning
    } else {
      written = snapshot.write(to: store)
      lastCheckpointTimings.write = lapSeconds()
    }
    let manifest: SnapshotManifest
    switch written {
    case .success(let report): manifest = report.manifest
    case .failure(let error):
      state.book = previousBook
      throw error
    }
    metrics?.gauge(
      "iak_domains_retired_held",
      help: "Retired domains whose last kernel version the pipeline keeps (DomainBook.retired)."
    ).with().set(Double(state.book.retired.count))
    // Their files go once the group confirmed this process (`removeServingFilesOutOfReach`).
    if publisher != nil { servingFilesToRemove += snapshot.droppedRetired }
    // Written: its tensors go now, not at the end (the transactions hold the partitions' bytes),
    // unless the partitions' states are still to be encoded for transactions: they take theirs
    // from these (below, once the group confirmed this process), each going as it is encoded.
    var tensorsToTake =
      plans == nil && handOver?.transactional != nil ? snapshot.payload.tensors : nil
    snapshot.payload = SafeTensors(tensors: [:])
    // The snapshot on disk records these versions with these weights: they are allocated
    // whether or not they are delivered below (a hand-over carries them, with the domains not
    // yet known to be delivered, so the new owner numbers on without reusing a number).
    lastWrittenSnapshot = manifest
    refreshDriftSeries()
    alertLedger.snapshotWritten()
    lastCheckpointTimings.refresh = lapSeconds()
    // The per-domain quality series (an AUC is a sort of each window) are refreshed once the
    // kernels are out, not on the way to their publication; whatever this checkpoint does next.
    defer {
      let started = ContinuousClock.now
      publishQuality(of: snapshot.items.map(\.kernel.domain))
      lastCheckpointTimings.metrics = (ContinuousClock.now - started).inSeconds
    }
    if let confirmMembership = handOver?.confirmMembership {
      do {
        try confirmMembership()
      } catch {
        // Nothing goes to a shared topic; what is owed goes out if the partitions stay here.
        throw MembershipNotConfirmed(reason: "\(error)")
      }
    }
    lastCheckpointTimings.membership = lapSeconds()
    // Only a confirmed member (or a process alone) deletes from a folder others may share.
    removeServingFilesOutOfReach()
    var failures: [String: String] = [:]
    if let handOver {
      if let transactional = handOver.transactional {
        let carried: [TransactionPlan]
        if let plans {
          carried = plans
        } else {
          let index = tensorsToTake.map { SnapshotTensors($0, domains: Set(trainer.domains)) }
          // The index alone holds them now: each is freed as its partition's state is encoded.
          tensorsToTake = nil
          carried = transactionPlans(
            handOver, outgoing: &outgoing, createdAtMilliseconds: createdAtMilliseconds,
            taking: index)
        }
        let errors = runTransactions(
          carried, transactional, snapshotVersion: manifest.version,
          createdAtMilliseconds: createdAtMilliseconds)
        applyTransactions(carried, errors: errors, outgoing: &outgoing, failures: &failures)
        lastCheckpointTimings.handOver += lapSeconds()
      } else {
        handOverStates(handOver, createdAtMilliseconds: createdAtMilliseconds)
        lastCheckpointTimings.handOver = lapSeconds()
      }
    }
    // What no transaction carried (no hand-over, or domains whose partition is not known).
    for alert in outgoing.alerts { send(alert) }
    alertLedger.waiting = outgoing.waiting
    publish(
      outgoing.kernels, failures: &failures, snapshotVersion: manifest.version,
      createdAtMilliseconds: createdAtMilliseconds)
    publishForTheSwitch(snapshotVersion: manifest.version, at: createdAtMilliseconds)
    lastCheckpointTimings.publish = lapSeconds()
    if !failures.isEmpty {
      let domains = failures.keys.sorted()
      throw KernelPublisher.Failure(domains: domains, reason: failures[domains[0]]!)
    }
    if publisher != nil, state.book.undelivered.isEmpty {
      recordDelivery(of: manifest.version, in: store)
    }
    lastCheckpointPublishedAt = .now
    return manifest
  }

  /// A snapshot encoded at the consistent point, not yet written: the book numbering the
  /// kernels that changed, those kernels to publish, and what the store writes.
  private struct EncodedSnapshot {
    var book: DomainBook
    /// The retired domains `book` dropped as out of reach (`dropUnreachableRetired(from:)`).
    var droppedRetired: [String]
    var items: [KernelPublisher.Item]
    var payload: SafeTensors
    var offsets: [TopicPartition: Int64]
    var backboneSHA256: String
    var configurationDigest: String
    var extras: [String: String]

    /// Writes this snapshot to `store`. It reads nothing of the pipeline: a copy of it may
    /// write on another thread while the pipeline's goes on.
    func write(to store: SnapshotStore) -> Result<SnapshotWriteReport, SnapshotStoreError> {
      Result { () throws(SnapshotStoreError) in
        try store.write(
          payload, offsets: offsets, backboneSHA256: backboneSHA256,
          configurationDigest: configurationDigest, extras: extras)
      }
    }
  }

  /// Numbers the kernels that changed (in a copy of the book) and encodes all state into the
  /// snapshot recording them, with the kernels to publish.
  private func encodeSnapshot() -> EncodedSnapshot {
    // A version number names one set of weights: a kernel gets a new number only when it
    // changed since its newest version; one not known to be delivered goes out again under
    // the number it has.
    var book = state.book
    let droppedRetired = dropUnreachableRetired(from: &book)
    let kernels = trainer.kernels.sorted { $0.key < $1.key }
    let allocations = book.allocate(stepCounts: kernels.map { ($0.key, $0.value.stepCount) })
    let items = allocations.map {
      KernelPublisher.Item(
        kernel: trainer.kernel(for: $0.domain)!, kernelVersion: $0.version,
        isActive: isServing($0.domain))
    }
    var tensors = stateTensors()
    // A second copy of the offsets, inside the checksummed payload: loading cross-checks the
    // manifest's against it (`payloadProblem(of:)`).
    tensors[Self.offsetsTensor] = offsetsTensorValue()
    tensors.merge(keptTensors()) { first, _ in first }
    var extras = book.encoded()
      .merging([
        SnapshotView.domainStatsKey: SnapshotView.encodeMap(domainStatistics()),
        TrainingSettings.extrasKey: TrainingSettings(configuration).recorded,
      ]) { first, _ in first }
      .merging(driftExtras()) { first, _ in first }
    if let backboneDirectory { extras[Self.backboneDirectoryKey] = backboneDirectory }
    if !previousBackbones.isEmpty {
      extras[Self.previousBackbonesKey] = previousBackbones.joined(separator: ",")
    }
    if !unannouncedSwitch.isEmpty {
      extras[Self.unannouncedSwitchKey] = Self.encodeSwitchedAt(unannouncedSwitch)
    }
    return EncodedSnapshot(
      book: book, droppedRetired: droppedRetired, items: items,
      payload: SafeTensors(tensors: tensors), offsets: offsets,
      backboneSHA256: backboneSHA256, configurationDigest: configurationDigest, extras: extras)
  }

  /// Removes from `publish.dir` the serving files of the retired domains written books dropped
  /// as out of reach (`servingFilesToRemove`), once the group confirmed this process when it has
  /// one (a member that lost its partitions without knowing it yet must not delete what another
  /// now publishes): a serving system that loads the folder no longer loads every domain ever
  /// published. Those of a domain held, numbered or retired again meanwhile stay.
  private func removeServingFilesOutOfReach() {
    guard let publisher, !servingFilesToRemove.isEmpty else { return }
    // A domain held again, or retired again with an entry of its own, keeps its new file.
    let gone = servingFilesToRemove.filter {
      trainer.kernel(for: $0) == nil && state.book.retired[$0] == nil
        && state.book.kernelVersions[$0] == nil
    }.sorted()
    servingFilesToRemove.removeAll()
    guard !gone.isEmpty else { return }
    let removed = publisher.removeFiles(of: gone)
    if removed > 0 {
      logger.info(
        "removed the serving files of retired domains out of reach (event.max_past)",
        ["files": "\(removed)", "first": gone[0], "last": gone[gone.count - 1]])
    }
  }

  /// Writes the quality series of `domains` (the kernels a checkpoint numbered), with the
  /// versions the book gives them, into the per-domain metrics.
  private func publishQuality(of domains: [String]) {
    guard let quality else { return }
    let book = state.book
    trainer.publish(
      to: quality, isServing: isServing, kernelVersion: { book.kernelVersions[$0] },
      domains: domains)
  }

  /// What a checkpoint sends after its snapshot: kernels and deferred alerts of owned domains,
  /// taken out as partitions' transactions carry them; alerts of domains not owned wait.
  private struct Outgoing {
    var kernels: [KernelPublisher.Item]
    var alerts: [DeferredAlert]
    var waiting: [DeferredAlert]

    init(
      kernels: [KernelPublisher.Item], alerts: [DeferredAlert], isOwned: (String) -> Bool
    ) {
      // With hand-overs, only the domains of partitions still owned go out: a lost partition's
      // domains may already be another member's, which numbers and publishes them itself.
      self.kernels = kernels.filter { isOwned($0.kernel.domain) }
      self.alerts = alerts.filter { isOwned($0.event.domain) }
      waiting = alerts.filter { !isOwned($0.event.domain) }
    }

    /// Takes out the kernels and alerts of the domains `isHere` accepts.
    mutating func take(_ isHere: (String) -> Bool) -> ([KernelPublisher.Item], [DeferredAlert]) {
      let items = kernels.filter { isHere($0.kernel.domain) }
      let alertsHere = alerts.filter { isHere($0.event.domain) }
      kernels.removeAll { isHere($0.kernel.domain) }
      alerts.removeAll { isHere($0.event.domain) }
      return (items, alertsHere)
    }
  }

  /// Hands the states of the owned partitions that changed to `handOver.write`, one at a
  /// time (without transactions).
  private func handOverStates(_ handOver: HandOver, createdAtMilliseconds: Int64) {
    for partition in changedPartitions(of: handOver.partitions) {
      if let state = partitionState(of: partition, createdAtMilliseconds: createdAtMilliseconds),
        handOver.write(state)
      {
        markHandedOver(state)
      }
    }
  }

  /// What each owned partition's transaction carries: its state when it changed (encoded), its
  /// domains' kernels and alerts (taken out of `outgoing`), in partition order; partitions with
  /// nothing to carry have none.
  private func transactionPlans(
    _ handOver: HandOver, outgoing: inout Outgoing, createdAtMilliseconds: Int64,
    taking snapshot: SnapshotTensors?
  ) -> [TransactionPlan] {
    var plans: [TransactionPlan] = []
    for partition in handOver.partitions.sorted() {
      let lane = lanes.lane(of: partition)
      let (items, alertsHere) = outgoing.take { [trainer] in trainer.lane(of: $0) == lane }
      // Encoded here, one partition at a time: the transactions then hold only the bytes of
      // each state, not its tensors as well (with 2,000 domains, the tensors of every partition
      // and the bytes of those being written made the checkpoint's peak about twice the state).
      let state =
        changedPartitions(of: [partition]).isEmpty
        ? nil
        : partitionState(
          of: partition, createdAtMilliseconds: createdAtMilliseconds, withKept: true,
          taking: snapshot
        ).map(EncodedPartitionState.init)
      guard !items.isEmpty || !alertsHere.isEmpty || state != nil else { continue }
      plans.append(
        TransactionPlan(partition: partition, items: items, alerts: alertsHere, state: state))
    }
    return plans
  }

  /// Runs the partitions' transactions side by side (`transactional.width`: each waits on the
  /// broker); returns the error of each that failed, by its index in `plans`. The threads read
  /// only constants of the pipeline: the alert emitter and the publisher, which read their
  /// settings and count in thread-safe metrics.
  private func runTransactions(
    _ plans: [TransactionPlan], _ transactional: HandOver.Transactional, snapshotVersion: Int,
    createdAtMilliseconds: Int64
  ) -> [Int: String] {
    let errors = Mutex<[Int: String]>([:])
    let publisher = publisher
    BlockingFanOut.run(plans.count, width: transactional.width) { index in
      let plan = plans[index]
      do {
        try transactional.run(plan.partition) { producer in
          for alert in plan.alerts { try emit(alert, via: producer) }
          if let state = plan.state { try transactional.writeState(state, producer) }
          try publisher?.publish(
            plan.items, snapshotVersion: snapshotVersion,
            createdAtMilliseconds: createdAtMilliseconds, via: producer)
        }
      } catch {
        errors.withLock { $0[index] = "\(error)" }
      }
    }
    return errors.withLock { $0 }
  }

  /// Applies what the transactions did, in partition order: a partition's state handed over
  /// and its kernels delivered; for a transaction that failed, its kernels in `failures` and its
  /// alerts waiting for the next checkpoint.
  private func applyTransactions(
    _ plans: [TransactionPlan], errors: [Int: String], outgoing: inout Outgoing,
    failures: inout [String: String]
  ) {
    for (index, plan) in plans.enumerated() {
      if let error = errors[index] {
        logger.error(
          "a partition's checkpoint transaction was not committed; its state, kernels and "
            + "alerts go again at the next checkpoint if it is still owned here",
          ["partition": plan.partition.description, "error": error])
        outgoing.waiting += plan.alerts
        for item in plan.items { failures[item.kernel.domain] = error }
      } else {
        if let state = plan.state { markHandedOver(state.partition, nextOffset: state.nextOffset) }
        for item in plan.items { self.state.book.delivered(item.kernel.domain) }
      }
    }
  }

  /// One partition's checkpoint transaction: its state (nil when unchanged), its domains'
  /// kernels and alerts.
  private struct TransactionPlan {
    var partition: TopicPartition
    var items: [KernelPublisher.Item]
    var alerts: [DeferredAlert]
    var state: EncodedPartitionState?
  }

  /// Publishes `items`; those delivered are not owed again, the others go out under the same
  /// numbers at the next checkpoint (and are added to `failures`).
  private func publish(
    _ items: [KernelPublisher.Item], failures: inout [String: String], snapshotVersion: Int,
    createdAtMilliseconds: Int64
  ) {
    do throws(KernelPublisher.Failure) {
      try publisher?.publish(
        items, snapshotVersion: snapshotVersion, createdAtMilliseconds: createdAtMilliseconds)
      for item in items { state.book.delivered(item.kernel.domain) }
    } catch {
      let failed = Set(error.domains)
      for item in items where !failed.contains(item.kernel.domain) {
        state.book.delivered(item.kernel.domain)
      }
      for domain in error.domains { failures[domain] = error.reason }
    }
  }

  /// Whether a domain's kernels and alerts may go out at a checkpoint with `handOver`: always
  /// without one; with one, when the partition (lane) that owns the domain is among
  /// `handOver.partitions`, or the domain's lane is not known.
  func ownedDomainFilter(_ handOver: HandOver?) -> (String) -> Bool {
    guard let handOver else { return { _ in true } }
    let ownedLanes = Set(handOver.partitions.map { lanes.lane(of: $0) })
    return { [trainer] domain in trainer.lane(of: domain).map(ownedLanes.contains) ?? true }
  }
}
