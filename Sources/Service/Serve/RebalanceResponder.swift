import Base
import Foundation
import Observability
import Stream
import Synchronization

/// What `serve` does when Kafka moves partitions: before revoked partitions are released, the
/// training thread trains everything already read and checkpoints (snapshot, publish, commit);
/// gained partitions start at the trained state's offsets.
///
/// With a state topic (`checkpoint.state_topic`, scale-out), state moves with the partitions:
/// the revoke checkpoint also writes each partition's state to the topic, and the revoked
/// partitions' state is then forgotten here; a gained partition's newest state is read from the
/// topic and taken over when it is ahead of what this process holds (its restored local
/// snapshot, or partitions it lost without a revoke), and reading starts at that state's
/// offset. State held at start-up for partitions Kafka does not assign is forgotten at the first
/// assignment (the state topic has it).
final class RebalanceResponder: Sendable {
  private let loop = Mutex<TrainingLoop?>(nil)
  private let queue: RecordQueue
  private let metrics: ServeMetrics
  private let logger: Logger
  private let timeoutSeconds: Double
  private let stateTopic: PartitionStateTopic?
  private let state = Mutex(RebalanceState())
  private let offsetResetPolicy: OffsetResetPolicy
  /// The log start and end offsets of a partition, asked of its leader (nil: unknown).
  private let watermarks = Mutex<(@Sendable (TopicPartition) -> (low: Int64, high: Int64)?)?>(nil)

  /// How often reading a gained partition's state is tried before the service stops (starting
  /// it without its state would silently restart its kernels).
  static let stateReadAttempts = 4

  /// Creates a responder; `timeoutSeconds` bounds the wait for a rebalance checkpoint.
  init(
    queue: RecordQueue, metrics: ServeMetrics, logger: Logger, timeoutSeconds: Double,
    stateTopic: PartitionStateTopic? = nil, offsetResetPolicy: OffsetResetPolicy = .fail
  ) {
    self.offsetResetPolicy = offsetResetPolicy
    self.queue = queue
    self.metrics = metrics
    self.logger = logger
    self.timeoutSeconds = timeoutSeconds
    self.stateTopic = stateTopic
  }

  /// Connects the training loop (before the first poll).
  func attach(_ trainingLoop: TrainingLoop) { loop.withLock { $0 = trainingLoop } }

  /// Connects the lookup of a partition's log start and end offsets (before the first poll),
  /// with which a gained partition's offsets are checked against its trained state.
  func attach(watermarks lookup: @escaping @Sendable (TopicPartition) -> (low: Int64, high: Int64)?)
  {
    watermarks.withLock { $0 = lookup }
  }

  /// Lets go of the training loop and the watermark lookup once the consumer is closed (the
  /// consumer's rebalance handler holds this responder, and the lookup holds the consumer, so
  /// the consumer, the loop, its pipeline and producer would otherwise never be freed when
  /// serve runs inside a longer process, as in `bench serve`, and the consumer would go on
  /// reconnecting to its brokers).
  func detach() {
    loop.withLock { $0 = nil }
    watermarks.withLock { $0 = nil }
  }

  /// Why the service must stop, when a rebalance step could not be done safely.
  var failure: ServeFailure? { state.withLock { $0.failure } }

  /// The consumer's rebalance handler (runs inside `poll` on the consumer thread).
  func handle(_ event: KafkaConsumer.RebalanceEvent, consumer: KafkaConsumer) {
    switch event {
    case .assigned:
      metrics.assigned.set(Double(consumer.assignment.count))
      guard state.withLock({ $0.assigned() }) == .forgetPartitionsOwnedElsewhere,
        stateTopic != nil, let trainingLoop = loop.withLock({ $0 })
      else { return }
      let owned = Set(consumer.assignment)
      let elsewhere = trainingLoop.heldPartitions.filter { !owned.contains($0) }
      if !elsewhere.isEmpty {
        logger.info(
          "forgetting restored state of partitions assigned to other members (the state topic "
            + "holds it)", ["partitions": elsewhere.map(\.description).joined(separator: ",")])
        run(.release(elsewhere), doing: "forgetting partitions owned elsewhere")
      }
    case .revoked(let partitions, let isLost):
      defer { metrics.assigned.set(Double(consumer.assignment.count - partitions.count)) }
      // After the rebalance checkpoint below: its transactions need the producers.
      defer {
        if let transactions = stateTopic?.transactions {
          for partition in partitions { transactions.close(partition) }
        }
      }
      guard let trainingLoop = loop.withLock({ $0 }), !trainingLoop.hasEnded else { return }
      if isLost {
        // Kept: if they come back (a broker outage, a session that timed out) the state topic
        // tells whether another member moved them on meanwhile; if not, reading resumes here.
        logger.warning(
          "partitions were lost without a chance to checkpoint; their state is kept until they "
            + "come back or are known to be elsewhere",
          ["partitions": partitions.map(\.description).joined(separator: ",")])
        return
      }
      run(.checkpoint(reason: "rebalance"), doing: "the rebalance checkpoint")
      if stateTopic != nil {
        run(.release(partitions), doing: "forgetting the revoked partitions")
      }
    }
  }

  /// Submits `kind` to the training thread and waits for it (at most the shutdown timeout).
  @discardableResult
  private func run(_ kind: ServeRequest.Kind, doing what: String) -> Bool {
    let request = ServeRequest(kind)
    queue.submit(request)
    guard request.wait(seconds: timeoutSeconds) else {
      logger.error(
        "\(what) did not finish in time; going on",
        ["timeout_seconds": Logger.figure(timeoutSeconds)])
      return false
    }
    if let failure = request.failure {
      logger.error("\(what) failed", ["error": failure])
      return false
    }
    return true
  }

  /// The start offset of a gained partition: where the trained state stopped reading it (after
  /// taking over a newer state from the state topic), or nil (the group's committed offset,
  /// else `input.start`) for a partition no state covers.
  func startOffset(of partition: TopicPartition) -> Int64? {
    guard let trainingLoop = loop.withLock({ $0 }) else { return nil }
    var offset = trainingLoop.nextOffset(of: partition)
    // The partition's transactional producer first: registering it fences the member that had
    // the partition, and aborts its open transaction, before the state is read below.
    if let transactions = stateTopic?.transactions, !trainingLoop.hasEnded {
      do {
        try transactions.open(partition)
      } catch {
        logger.warning(
          "could not open the partition's transactional producer; the next checkpoint tries "
            + "again", ["partition": partition.description, "error": "\(error)"])
      }
    }
    if let stateTopic, !trainingLoop.hasEnded {
      if let newer = newestState(of: partition, on: stateTopic, holding: offset) {
        // The training thread logs the takeover (the pipeline is its own).
        if run(.adopt(newer), doing: "taking over the state of \(partition)") {
          stateTopic.noteAdopted()
          offset = newer.nextOffset
        } else {
          stop("the state of \(partition) from \(stateTopic.topic) could not be taken over")
        }
      }
    }
    if let held = offset, let reset = checkForReset(of: partition, holding: held) {
      offset = reset
    }
    if let offset {
      logger.info(
        "partition starts at its state's offset",
        ["partition": partition.description, "offset": "\(offset)"])
    } else {
      logger.info(
        "partition has no state; starting at the group's committed offset or input.start",
        ["partition": partition.description])
    }
    return offset
  }

  /// Compares the trained state's next offset of `partition`, `held`, with the partition's
  /// end: an end below it means the offsets went backwards (the topic was deleted and created
  /// again, or truncated), and every record now on the partition is new, not "already trained".
  /// Applies `--on-offset-reset`: stops the service (`fail`), or returns the offset to start
  /// reading at (the log start) after keeping the state (`resume-from-snapshot`) or forgetting
  /// the partition's (`start-over`). Nil when the offsets did not go backwards (or cannot be
  /// asked: the fetch then behaves as before).
  private func checkForReset(of partition: TopicPartition, holding held: Int64) -> Int64? {
    guard let lookup = watermarks.withLock({ $0 }), let (low, high) = lookup(partition),
      high < held
    else { return nil }
    let details: Logger.Metadata = [
      "partition": partition.description, "state_offset": "\(held)", "log_start": "\(low)",
      "log_end": "\(high)", "on_offset_reset": offsetResetPolicy.rawValue,
    ]
    switch offsetResetPolicy {
    case .fail:
      stop(
        "the offsets of input partition \(partition) went backwards: it ends at offset \(high) "
          + "(log start \(low)) but the trained state has read it up to offset \(held), so "
          + "the topic was deleted and created again, or truncated; its records are new and "
          + "none was trained or skipped. Start again with --on-offset-reset "
          + "resume-from-snapshot to keep the trained state and read the partition from offset "
          + "\(low), or --on-offset-reset start-over to forget the partition's state and train "
          + "it anew from offset \(low)")
      return nil
    case .resumeFromSnapshot:
      logger.warning(
        "the partition's offsets went backwards (topic created again?); keeping the trained "
          + "state and reading it from its log start", details)
      guard run(.rewind(partition, to: low), doing: "rewinding \(partition)") else {
        stop("\(partition) could not be read again from its log start")
        return nil
      }
    case .startOver:
      logger.warning(
        "the partition's offsets went backwards (topic created again?); forgetting its "
          + "trained state and training it anew from its log start", details)
      guard run(.release([partition]), doing: "forgetting the state of \(partition)") else {
        stop("the state of \(partition) could not be forgotten")
        return nil
      }
    }
    return low
  }

  /// The newest state of `partition` on the state topic when it is ahead of `held`; nil when
  /// there is none, it is not ahead, or it is unreadable (logged and counted). A topic that
  /// cannot be read after a few tries stops the service.
  private func newestState(
    of partition: TopicPartition, on stateTopic: PartitionStateTopic, holding held: Int64?
  ) -> PartitionState? {
    var pause = 0.25
    for attempt in 1...Self.stateReadAttempts {
      do {
        guard let found = try stateTopic.newestState(of: partition) else { return nil }
        guard found.nextOffset > (held ?? -1) else {
          logger.info(
            "the local state of the partition is as new as the state topic's; keeping it",
            [
              "partition": partition.description, "offset": "\(held ?? -1)",
              "topic_offset": "\(found.nextOffset)",
            ])
          return nil
        }
        return found
      } catch let error as ServiceError
        where error.code == .stateUnreadable || error.code == .stateMismatch
      {
        // Read, but not a usable state (a chunk gone, a garbled head): reading again gives the
        // same, and stopping would stop every member that gains the partition, for good. The
        // partition goes on from what this process holds (its snapshot, else the committed
        // offset), consistent in itself; only what the unreadable state had trained since is
        // trained again, from the older state.
        logger.error(
          "the partition's state on the state topic is unreadable; going on from the local "
            + "state (or the committed offset), and the next checkpoint writes a new one",
          [
            "partition": partition.description, "held_offset": held.map(String.init) ?? "none",
            "error": error.message,
          ])
        stateTopic.noteUnreadable()
        return nil
      } catch {
        logger.warning(
          "could not read the partition's state",
          [
            "partition": partition.description, "attempt": "\(attempt)",
            "error": "\(error)",
          ])
        Thread.sleep(forTimeInterval: pause)
        pause *= 2
      }
    }
    stop("the state of \(partition) could not be read from \(stateTopic.topic)")
    return nil
  }

  /// Asks the service to stop: a partition without its state would restart its kernels.
  private func stop(_ reason: String) {
    logger.error("stopping: \(reason); a restart tries again")
    state.withLock { $0.stepFailed(ServeFailure(.rebalance, reason)) }
  }
}
