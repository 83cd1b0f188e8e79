import Learner
import Stream

/// What a benchmark watches of `serve`'s training thread (`bench serve`: exact freshness and the
/// span of the run). `serve` itself installs none and pays nothing for it.
///
/// Called on the training thread only, in order.
protocol TrainingObserver: Sendable {
  /// `records`, polled at `arrival`, went through the pipeline at `instant`.
  func trained(
    _ records: [DecodedRecord], arrivedAt arrival: ContinuousClock.Instant,
    at instant: ContinuousClock.Instant)

  /// A snapshot covering every record trained so far was published at `instant` (wall clock
  /// `milliseconds` since 1970) by a checkpoint that started at `started`, whose steps took
  /// `timings` (its offsets were committed after `instant`, in `timings.commit`), when the
  /// trainer's domains held `domainMemory`.
  func published(
    at instant: ContinuousClock.Instant, milliseconds: Int64,
    checkpointStartedAt started: ContinuousClock.Instant, timings: CheckpointTimings,
    domainMemory: DomainMemory)

  /// A closed batch trained on impressions of these event times (milliseconds) for the first
  /// time (`Pipeline.trainedImpressionSink`); the next `published` publishes kernels trained on
  /// them.
  func trainedImpressions(eventTimesMs: [Int64])

  /// Whether it wants `trainedImpressions(eventTimesMs:)`: the pipeline then keeps every trained
  /// impression's event time for it, work `serve` alone does not do.
  var watchesTrainedImpressions: Bool { get }
}

extension TrainingObserver {
  func trainedImpressions(eventTimesMs: [Int64]) {}
  var watchesTrainedImpressions: Bool { true }
}
