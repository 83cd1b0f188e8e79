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
    let (manifest, kernels) = try writeSnapshot(to: store)
    // The per-domain quality series (an AUC is a sort of each window) are refreshed once the
    // kernels are out, not on the way to their publication; whatever this checkpoint does next.
    defer {
      let started = ContinuousClock.now
      publishQuality(of: kernels.map(\.kernel.domain))
      lastCheckpointTimings.metrics = (ContinuousClock.now - started).inSeconds
    }
    lap = .now
    if let confirmMembership = handOver?.confirmMembership {
      do {
        try confirmMembership()
      } catch {
        // Nothing goes to a shared topic; what is owed goes out if the partitions stay here.
        throw MembershipNotConfirmed(reason: "\(error)")
      }
    }
    lastCheckpointTimings.membership = lapSeconds()
    var outgoing = Outgoing(
      kernels: kernels, alerts: alertLedger.waiting, isOwned: ownedDomainFilter(handOver))
    var failures: [String: String] = [:]
    if let handOver {
      handOverPartitions(
        handOver, outgoing: &outgoing, failures: &failures, snapshotVersion: manifest.version,
        createdAtMilliseconds: createdAtMilliseconds)
    }
    lastCheckpointTimings.handOver = lapSeconds()
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

  /// Numbers the kernels that changed, writes the snapshot recording them, and refreshes what
  /// follows a snapshot (drift series, the alert history). Returns the manifest and the kernels
  /// to publish; the book is left as it was when the write fails.
  private func writeSnapshot(to store: SnapshotStore) throws -> (
    SnapshotManifest, [KernelPublisher.Item]
  ) {
    // A version number names one set of weights: a kernel gets a new number only when it
    // changed since its newest version; one not known to be delivered goes out again under
    // the number it has.
    let started = ContinuousClock.now
    var book = state.book
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
    let encoded = ContinuousClock.now
    lastCheckpointTimings.encode = (encoded - started).inSeconds
    let report = try store.write(
      SafeTensors(tensors: tensors),
      offsets: offsets,
      backboneSHA256: backboneSHA256, configurationDigest: configurationDigest, extras: extras)
    // The snapshot on disk records these versions with these weights: they are allocated
    // whether or not they are delivered below (a hand-over carries them, with the domains not
    // yet known to be delivered, so the new owner numbers on without reusing a number).
    let written = ContinuousClock.now
    lastCheckpointTimings.write = (written - encoded).inSeconds
    state.book = book
    lastWrittenSnapshot = report.manifest
    refreshDriftSeries()
    alertLedger.snapshotWritten()
    lastCheckpointTimings.refresh = (ContinuousClock.now - written).inSeconds
    return (report.manifest, items)
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

  /// Hands the owned partitions' states over: with transactions, each partition's state, its
  /// domains' kernels and alerts in one transaction (taken out of `outgoing`); without, each
  /// changed state through `handOver.write`. A transaction that fails leaves its kernels in
  /// `failures` and its alerts waiting for the next checkpoint.
  private func handOverPartitions(
    _ handOver: HandOver, outgoing: inout Outgoing, failures: inout [String: String],
    snapshotVersion: Int, createdAtMilliseconds: Int64
  ) {
    guard let transactional = handOver.transactional else {
      for partition in changedPartitions(of: handOver.partitions) {
        if let state = partitionState(of: partition, createdAtMilliseconds: createdAtMilliseconds),
          handOver.write(state)
        {
          markHandedOver(state)
        }
      }
      return
    }
    // What each partition's transaction carries, worked out here; the transactions then run
    // side by side (`transactional.width`: each waits on the broker), and what they did is
    // applied here again, in partition order.
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
        : partitionState(of: partition, createdAtMilliseconds: createdAtMilliseconds).map(
          EncodedPartitionState.init)
      guard !items.isEmpty || !alertsHere.isEmpty || state != nil else { continue }
      plans.append(
        TransactionPlan(partition: partition, items: items, alerts: alertsHere, state: state))
    }
    let errors = Mutex<[Int: String]>([:])
    // Every transaction's thread reads only constants of the pipeline: the alert emitter and the
    // publisher, which read their settings and count in thread-safe metrics.
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
    let failed = errors.withLock { $0 }
    for (index, plan) in plans.enumerated() {
      if let error = failed[index] {
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
