import Observability
import Stream
import Synchronization

/// What `serve` does when Kafka moves partitions: before revoked partitions are released, the
/// training thread trains everything already read and checkpoints (snapshot, publish, commit);
/// gained partitions start at the trained state's offsets.
final class RebalanceResponder: Sendable {
  private let loop = Mutex<TrainingLoop?>(nil)
  private let queue: RecordQueue
  private let metrics: ServeMetrics
  private let logger: Logger
  private let timeoutSeconds: Double

  /// Creates a responder; `timeoutSeconds` bounds the wait for a rebalance checkpoint.
  init(queue: RecordQueue, metrics: ServeMetrics, logger: Logger, timeoutSeconds: Double) {
    self.queue = queue
    self.metrics = metrics
    self.logger = logger
    self.timeoutSeconds = timeoutSeconds
  }

  /// Connects the training loop (before the first poll).
  func attach(_ trainingLoop: TrainingLoop) { loop.withLock { $0 = trainingLoop } }

  /// Lets go of the training loop once the consumer is closed (the consumer's rebalance
  /// handler holds this responder, so the loop, its pipeline and producer would otherwise never
  /// be freed when serve runs inside a longer process, as in `bench serve`).
  func detach() { loop.withLock { $0 = nil } }

  /// The consumer's rebalance handler (runs inside `poll` on the consumer thread).
  func handle(_ event: KafkaConsumer.RebalanceEvent, consumer: KafkaConsumer) {
    switch event {
    case .assigned:
      metrics.assigned.set(Double(consumer.assignment.count))
    case .revoked(let partitions, let isLost):
      defer { metrics.assigned.set(Double(consumer.assignment.count - partitions.count)) }
      guard let trainingLoop = loop.withLock({ $0 }), trainingLoop.isRunning else { return }
      if isLost {
        logger.warning(
          "partitions were lost without a chance to checkpoint; another member owns them now",
          ["partitions": partitions.map(\.description).joined(separator: ",")])
        return
      }
      let request = ServeRequest(.checkpoint(reason: "rebalance"))
      queue.submit(request)
      if !request.wait(seconds: timeoutSeconds) {
        logger.error(
          "the rebalance checkpoint did not finish in time; releasing the partitions anyway",
          ["timeout_seconds": "\(timeoutSeconds)"])
      }
    }
  }

  /// The start offset of a gained partition: where the trained state stopped reading it, or
  /// nil (the group's committed offset, else `input.start`) for a partition never read.
  func startOffset(of partition: KafkaPartition) -> Int64? {
    let offset = loop.withLock { $0 }?.nextOffset(of: partition)
    if let offset {
      logger.info(
        "partition starts at its snapshot offset",
        ["partition": partition.description, "offset": "\(offset)"])
    } else {
      logger.info(
        "partition has no snapshot offset; starting at the group's committed offset or "
          + "input.start", ["partition": partition.description])
    }
    return offset
  }
}
