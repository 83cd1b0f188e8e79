import Base
import Foundation
import Observability
import Stream

/// The consumer thread of `serve`: polls the source, decodes the records (so the training
/// thread only joins, routes and trains), hands them to the training thread, stops polling while
/// the queue is full, and keeps lag and health current. Its lifecycle is a `ConsumerLifecycle`
/// value: the loop tells it what it saw and performs the action it answers.
struct ConsumerLoop {
  /// Why the loop ended.
  struct Ending: Sendable, Equatable {
    /// In words, for the log.
    var reason: String
    /// Whether the records already queued should be trained before the final snapshot
    /// (end of input, idle) rather than left for the next start (signal, failure).
    var trainsQueuedRecords: Bool
    /// The failure that ended it, if any.
    var failure: ServeFailure?
  }

  let source: any RecordSource
  let queue: RecordQueue
  let training: TrainingLoop
  let responder: RebalanceResponder
  let metrics: ServeMetrics
  let health: HealthState
  let shutdown: ShutdownSignal
  let logger: Logger
  let pollTimeout: Duration
  let idleExit: Duration?

  /// Records asked of the source per poll.
  static let chunkSize = 1000

  /// Polls until the service must stop; returns why.
  func run() -> Ending {
    let consumer = (source as? KafkaRecordSource)?.consumer
    var lifecycle = ConsumerLifecycle()
    var lastRecord = ContinuousClock.now
    var lastLagCheck = ContinuousClock.now - .seconds(60)
    var lagIsZero = false
    var assignment: [TopicPartition] = []
    while true {
      if case .end(let ending) = checkStop(&lifecycle) { return ending }
      let waiting = queue.count
      if waiting >= queue.capacity {
        // Backpressure: no poll until the training thread makes room. librdkafka stops fetching
        // once its own prefetch queue is full, and keeps what it fetched. (Pausing the
        // partitions instead drops librdkafka's prefetched records and fetches them again after
        // resume, up to fetch.wait.max.ms later: `bench serve` found the training thread
        // starved half of the time that way.)
        if case .hold(let records) = lifecycle.queueFilled(records: waiting) {
          metrics.paused.set(1)
          logger.debug("input held: the training queue is full", ["records": "\(records)"])
        }
        // Bounded: a stop request or the training thread's end is seen within it.
        _ = queue.waitForRoom(timeout: pollTimeout)
        continue
      }
      if case .resume(let records) = lifecycle.queueHasRoom(records: waiting) {
        metrics.paused.set(0)
        logger.debug("input polled again", ["records": "\(records)"])
      }
      let records: [Record]
      do {
        records = try source.poll(maxRecords: Self.chunkSize, timeout: pollTimeout)
      } catch {
        health.markFailed(error.description)
        logger.error("stopping: the input failed for good", ["error": error.description])
        if case .end(let ending) = lifecycle.inputFailed(
          ServeFailure(.input, error.description))
        {
          return ending
        }
        continue
      }
      let now = ContinuousClock.now
      if !records.isEmpty {
        metrics.consumed.increment(by: Double(records.count))
        let decoder = training.decoder
        let prepare = training.prepareServingInput
        var decoded = records.map { decoder.decodeAhead($0) }
        prepare(&decoded)
        metrics.queued.set(Double(queue.append(decoded, arrivedAt: now)))
        lastRecord = now
      }
      if idleExit != nil {
        // Quiet time counts from the latest change of assignment: a partition just gained has
        // not been fetched yet.
        let current = source.assignment
        if current != assignment {
          assignment = current
          lastRecord = now
          lagIsZero = false
        }
      }
      if now - lastLagCheck >= .seconds(1) {
        lastLagCheck = now
        if let consumer {
          let lag = consumer.updateLag()
          health.updateLag(Int(lag.values.reduce(0, +)))
          lagIsZero = lag.values.allSatisfy { $0 == 0 }
        } else {
          lagIsZero = source.isEndOfInput
        }
      }
      if let idleExit, now - lastRecord >= idleExit, queue.count == 0, lagIsZero,
        !assignment.isEmpty, case .end(let ending) = lifecycle.inputIdle(for: idleExit)
      {
        return ending
      }
    }
  }

  /// Tells `lifecycle` what ends the loop, if anything does: a stop request, the training
  /// thread's end, a failed rebalance, the end of a file input with everything queued.
  private func checkStop(_ lifecycle: inout ConsumerLifecycle) -> ConsumerLifecycle.EndAction {
    if shutdown.isRequested { return lifecycle.stopRequested() }
    if training.hasEnded { return lifecycle.trainingStopped(training.failure) }
    if let failure = responder.failure { return lifecycle.rebalanceFailed(failure) }
    if source.isEndOfInput && queue.count == 0 { return lifecycle.inputEnded() }
    return .ignore
  }
}
