import Learner
import Synchronization

/// Exact freshness figures for benchmarks, kept by observing `serve`'s training thread
/// (`TrainingObserver`): how long records waited from their arrival to the
/// publication of the snapshot that covers them, kept as (seconds, records) pairs, and the span
/// of the run (first arrival, last record processed, last publication).
///
/// A wait is measured from the poll that brought the record (`Origin.poll`), and, when the log
/// is made with `measuresProduceTime`, also from the record's Kafka timestamp
/// (`Origin.produce`: the producer's send time for topics with CreateTime timestamps).
final class FreshnessLog: Sendable {
  /// What a wait is measured from.
  enum Origin: Sendable {
    /// The poll that handed the record to `serve`.
    case poll
    /// The record's timestamp (wall clock, milliseconds).
    case produce
    /// An impression's event time, for events stamped with their production time: the wait
    /// from its production to the publication of a kernel trained on it (not merely of a
    /// snapshot covering its record: a label wait holds it in the joiner meanwhile).
    case impression
    /// The same impressions' event times, to the end of the training step on them (the part of
    /// `impression` before the checkpoint: poll, label path, batch).
    case impressionTrained
  }

  /// A part of a record's wait for the publication covering it, in the order they follow each
  /// other: the four add up to the wait from production.
  enum Part: CaseIterable, Sendable {
    /// From the record's timestamp to the poll that brought it (producer batching, broker,
    /// fetch; measured with `measuresProduceTime` only).
    case production
    /// From its poll to the end of its training (decode ahead, the queue, the chunk's training).
    case training
    /// From its training to the start of the checkpoint that covers it (the interval).
    case interval
    /// From the start of that checkpoint to the publication (encode, write, publish).
    case checkpoint

    /// Its name in the figures.
    var label: String {
      switch self {
      case .production: "production -> poll"
      case .training: "poll -> trained"
      case .interval: "trained -> checkpoint start"
      case .checkpoint: "checkpoint start -> publication"
      }
    }
  }

  /// When the run's records arrived, were processed and were last published.
  struct Span: Sendable {
    /// The arrival (poll) of the first record processed.
    var firstArrival: ContinuousClock.Instant?
    /// When the last chunk of records was through the pipeline.
    var lastProcessed: ContinuousClock.Instant?
    /// When the last snapshot was published.
    var lastPublication: ContinuousClock.Instant?
    /// Duration of the checkpoint (snapshot and publish) that published last, in seconds.
    var lastCheckpointSeconds = 0.0
  }

  /// The figures, and what the training thread trained since the newest publication.
  struct State {
    /// Waits measured from the poll.
    var polled: [(seconds: Double, records: Int)] = []
    /// Waits measured from the records' timestamps.
    var produced: [(seconds: Double, records: Int)] = []
    /// Waits measured from impressions' event times to a kernel trained on them.
    var impressions: [(seconds: Double, records: Int)] = []
    /// Waits measured from impressions' event times to the training on them.
    var impressionsTrained: [(seconds: Double, records: Int)] = []
    /// Event times of impressions trained on and not yet published, in milliseconds.
    var unpublishedImpressionTimes: [Int64] = []
    /// The span of the run.
    var span = Span()
    /// The waits' parts (`Part`), record-weighted like the waits.
    var parts: [Part: [(seconds: Double, records: Int)]] = [:]
    /// The steps of every checkpoint that published (the oldest dropped beyond `limit`).
    var checkpoints: [CheckpointTimings] = []
    /// What the trainer's domains held at the newest publication.
    var domainMemory: DomainMemory?
    /// Chunks trained and not yet published: when they arrived, when they were trained, and
    /// how many records each held.
    var unpublishedArrivals:
      [(instant: ContinuousClock.Instant, trained: ContinuousClock.Instant, records: Int)] = []
    /// Records trained and not yet published, by timestamp (milliseconds; runs of one
    /// timestamp counted together).
    var unpublishedTimestamps: [(milliseconds: Int64, records: Int)] = []
  }

  /// The figures, locked.
  let state = Mutex(State())
  /// Pairs kept at most per origin (the oldest are dropped beyond it).
  let limit: Int
  /// Whether it also measures waits from the records' timestamps (costs a pair per
  /// distinct timestamp, so only benchmarks ask for it).
  let measuresProduceTime: Bool
  /// Whether it measures from impressions' event times to the publication of kernels trained
  /// on them (`Origin.impressionTrained`). The pipeline then keeps every trained impression's
  /// time for it, which `serve` alone does not: a run whose throughput is the figure leaves it
  /// out.
  let watchesTrainedImpressions: Bool

  /// Creates an empty log keeping at most `limit` pairs per origin.
  init(
    limit: Int = 1_000_000, measuresProduceTime: Bool = false,
    watchesTrainedImpressions: Bool = true
  ) {
    self.limit = limit
    self.measuresProduceTime = measuresProduceTime
    self.watchesTrainedImpressions = watchesTrainedImpressions
  }

  /// Records that `records` records waited `seconds` from `origin`.
  func record(seconds: Double, records: Int, from origin: Origin = .poll) {
    let limit = limit
    state.withLock { state in
      switch origin {
      case .poll: Self.append((seconds, records), to: &state.polled, limit: limit)
      case .produce: Self.append((seconds, records), to: &state.produced, limit: limit)
      case .impression: Self.append((seconds, records), to: &state.impressions, limit: limit)
      case .impressionTrained:
        Self.append((seconds, records), to: &state.impressionsTrained, limit: limit)
      }
    }
  }

  /// Records that `records` records spent `seconds` in `part` of their wait.
  func record(seconds: Double, records: Int, in part: Part) {
    let limit = limit
    state.withLock { state in
      Self.append((seconds, records), to: &state.parts[part, default: []], limit: limit)
    }
  }

  /// Appends `sample` to `samples`, dropping the oldest half when `limit` is reached.
  static func append<Sample>(_ sample: Sample, to samples: inout [Sample], limit: Int) {
    if samples.count >= limit { samples.removeFirst(samples.count / 2) }
    samples.append(sample)
  }

  /// Notes a publication at `instant` by a checkpoint that took `seconds`.
  func notePublication(at instant: ContinuousClock.Instant, checkpointSeconds seconds: Double) {
    state.withLock {
      $0.span.lastPublication = instant
      $0.span.lastCheckpointSeconds = seconds
    }
  }

  /// The span of the run so far.
  var span: Span { state.withLock { $0.span } }

  /// The record-weighted quantile `q` (0...1) of the waits from `origin`, or nil when nothing
  /// was recorded.
  func quantile(_ q: Double, from origin: Origin = .poll) -> Double? {
    Self.quantile(q, of: samples(origin))
  }

  /// The record-weighted quantile `q` (0...1) of the time spent in `part`, or nil when nothing
  /// was recorded.
  func quantile(_ q: Double, in part: Part) -> Double? {
    Self.quantile(q, of: state.withLock { $0.parts[part] ?? [] })
  }

  /// What the trainer's domains held at the newest publication (nil before the first).
  var domainMemory: DomainMemory? { state.withLock { $0.domainMemory } }

  /// The steps of every checkpoint that published, oldest first.
  var checkpoints: [CheckpointTimings] { state.withLock { $0.checkpoints } }

  /// The record-weighted quantile `q` (0...1) of `samples`, or nil when there are none.
  static func quantile(_ q: Double, of samples: [(seconds: Double, records: Int)]) -> Double? {
    let sorted = samples.sorted { $0.seconds < $1.seconds }
    let total = sorted.reduce(0) { $0 + $1.records }
    guard total > 0 else { return nil }
    let rank = max(1, Int((q * Double(total)).rounded(.up)))
    var seen = 0
    for sample in sorted {
      seen += sample.records
      if seen >= rank { return sample.seconds }
    }
    return sorted.last?.seconds
  }

  /// Records measured from `origin`.
  func recordCount(from origin: Origin = .poll) -> Int {
    samples(origin).reduce(0) { $0 + $1.records }
  }

  private func samples(_ origin: Origin) -> [(seconds: Double, records: Int)] {
    state.withLock {
      switch origin {
      case .poll: $0.polled
      case .produce: $0.produced
      case .impression: $0.impressions
      case .impressionTrained: $0.impressionsTrained
      }
    }
  }
}
