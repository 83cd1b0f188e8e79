import Foundation
import Observability
import Stream

/// The consumer thread of `serve`: polls the source, decodes the records (so the training
/// thread only joins, routes and trains), hands them to the training thread, stops polling while
/// the queue is full, and keeps lag and health current.
struct ConsumerLoop {
  /// Why the loop ended.
  struct Ending {
    /// In words, for the log.
    var reason: String
    /// Whether the records already queued should be trained before the final snapshot
    /// (end of input, idle) rather than left for the next start (signal, failure).
    var trainsQueuedRecords: Bool
    /// The failure that ended it, if any.
    var failure: String?
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

  func run() -> Ending {
    let consumer = (source as? KafkaRecordSource)?.consumer
    var lastRecord = ContinuousClock.now
    var lastLagCheck = ContinuousClock.now - .seconds(60)
    var lagIsZero = false
    var assignment: [TopicPartition] = []
    while true {
      if shutdown.isRequested {
        return Ending(reason: "shutdown requested", trainsQueuedRecords: false)
      }
      if !training.isRunning {
        return Ending(
          reason: "the training thread stopped", trainsQueuedRecords: false,
          failure: training.failure ?? "the training thread stopped")
      }
      if let failure = responder.failure {
        return Ending(reason: "a rebalance failed", trainsQueuedRecords: false, failure: failure)
      }
      if source.isEndOfInput && queue.count == 0 {
        return Ending(reason: "end of input", trainsQueuedRecords: true)
      }
      if queue.count >= queue.capacity {
        // Backpressure: no poll until the training thread makes room. librdkafka stops fetching
        // once its own prefetch queue is full, and keeps what it fetched. (Pausing the
        // partitions instead drops librdkafka's prefetched records and fetches them again after
        // resume, up to fetch.wait.max.ms later: `bench serve` found the training thread
        // starved half of the time that way.)
        markPaused(true, waiting: queue.count)
        _ = queue.waitForRoom(timeout: pollTimeout)
        continue
      }
      markPaused(false, waiting: queue.count)
      let records: [Record]
      do {
        records = try source.poll(maxRecords: Self.chunkSize, timeout: pollTimeout)
      } catch {
        health.markFailed(error.description)
        logger.error("stopping: the input failed for good", ["error": error.description])
        return Ending(
          reason: "input failed", trainsQueuedRecords: false, failure: error.description)
      }
      let now = ContinuousClock.now
      if !records.isEmpty {
        metrics.consumed.increment(by: Double(records.count))
        let decoder = training.decoder
        let decoded = records.map { decoder.decodeAhead($0) }
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
        !assignment.isEmpty
      {
        return Ending(reason: "input idle for \(idleExit)", trainsQueuedRecords: true)
      }
    }
  }

  private func markPaused(_ paused: Bool, waiting: Int) {
    guard paused != (metrics.paused.value > 0) else { return }
    metrics.paused.set(paused ? 1 : 0)
    if paused {
      logger.debug("input held: the training queue is full", ["records": "\(waiting)"])
    } else {
      logger.debug("input polled again", ["records": "\(waiting)"])
    }
  }
}
