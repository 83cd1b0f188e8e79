import Base
import Foundation
import Learner
import Observability
import Stream
import Synchronization

/// A re-base that runs ahead of a backbone switch, on a thread of its own, while the pipeline
/// goes on training and publishing on the old backbone (`backbone-prepare` records).
///
/// It owns a pipeline on the new backbone and feeds it each prepared partition's records from
/// the record's `rebase_from` on, read again through the pipeline's `history`, never past the
/// live pipeline's position in that partition (`advance(to:)`). At the switch, `finish(at:)`
/// lets it read up to each switch record and hands its pipeline over: the same state a
/// re-base started at the switch would reach (with the input keyed by region, a partition's
/// state does not depend on how the partitions' records interleave).
final class BackgroundRebase: @unchecked Sendable {
  /// A partition being read: from where, how far it has been read, how far it may be read.
  struct Progress {
    var from: Int64
    var next: Int64
    var cap: Int64
  }

  private struct Shared {
    var partitions: [TopicPartition: Progress] = [:]
    /// Set by `finish(at:)`: where each partition ends.
    var ends: [TopicPartition: Int64]?
    var isStopped = false
    var isDone = false
    var failure: String?
    /// The re-base's kernels after its newest stretch, with whether each serves there.
    var kernels: [String: (kernel: IAKKernel, isActive: Bool)] = [:]
    /// Each domain's newest kernel handed out to be published ahead, under which number, and
    /// whether it was delivered.
    var ahead: [String: (kernel: IAKKernel, isActive: Bool, version: Int, isDelivered: Bool)] =
      [:]
  }

  /// The switch it prepares.
  let target: ControlRecord
  private let shared = Mutex(Shared())
  private let changed = DispatchSemaphore(value: 0)
  private let finished = DispatchSemaphore(value: 0)
  /// Touched by the worker thread only, until `finish(at:)` has seen it end.
  private var pipeline: Pipeline?
  private let logger: Logger
  private let lag: MetricFamily?

  /// Starts the worker: `make` builds the pipeline on the new backbone (on the worker, so a
  /// slow load does not stop training), `history` reads records again.
  init(
    target: ControlRecord, make: @escaping @Sendable () throws -> Pipeline,
    history: @escaping @Sendable (TopicPartition, Int64, Int64) throws -> [Record],
    logger: Logger, metrics: MetricsRegistry?
  ) {
    self.target = target
    self.logger = logger
    lag = metrics?.gauge(
      "iak_backbone_rebase_lag_records",
      help: "Records a background re-base has still to read before it reaches the live position.",
      labels: ["partition"])
    let thread = Thread.named("iak-rebase") { [self] in run(make: make, history: history) }
    thread.start()
  }

  /// Adds `partition`, whose window starts at `from` and which the live pipeline has read up
  /// to `cap`.
  func add(_ partition: TopicPartition, from: Int64, cap: Int64) {
    shared.withLock { shared in
      if shared.partitions[partition] == nil {
        shared.partitions[partition] = Progress(from: from, next: from, cap: cap)
      }
    }
    changed.signal()
  }

  /// The window start of each partition it reads.
  var windows: [TopicPartition: Int64] {
    shared.withLock { $0.partitions.mapValues(\.from) }
  }

  /// Lets each partition be read up to the live pipeline's next offset in `offsets`.
  func advance(to offsets: [TopicPartition: Int64]) {
    let moved = shared.withLock { shared -> Bool in
      var moved = false
      for (partition, progress) in shared.partitions {
        if let offset = offsets[partition], offset > progress.cap {
          shared.partitions[partition]!.cap = offset
          lag?.with(partition.description).set(Double(offset - progress.next))
          moved = true
        }
      }
      return moved
    }
    if moved { changed.signal() }
  }

  /// Whether every partition has been read up to where it may be read.
  var isCaughtUp: Bool {
    shared.withLock { shared in
      shared.partitions.values.allSatisfy { $0.next >= $0.cap }
    }
  }

  /// Whether the worker stopped on a failure (`finish(at:)` then logs it and returns nil).
  var hasFailed: Bool { shared.withLock { $0.failure != nil } }

  /// Lets every partition be read up to its end in `ends` (its switch record), waits until it
  /// has, and returns the pipeline; nil, with the reason logged, when the re-base failed.
  func finish(at ends: [TopicPartition: Int64]) -> Pipeline? {
    shared.withLock { $0.ends = ends }
    changed.signal()
    finished.wait()
    let failure = shared.withLock { $0.failure }
    if let failure {
      logger.error(
        "the background re-base failed; the switch re-bases now instead", ["error": failure])
      return nil
    }
    return pipeline
  }

  /// This re-base's identity on the kernels topic (header `iak-rebase` of the kernels it
  /// publishes ahead): a new one each time a re-base starts.
  let id = UUID().uuidString.lowercased()

  /// The re-based kernels to publish ahead, sorted by domain: those that changed (weights or
  /// serving) since they were last handed out, under the next number of their domain in this
  /// re-base, and those handed out and not delivered, under the number they had. A number
  /// names one kernel within the re-base (`id`), whatever drift does to its steps.
  func aheadItems() -> [KernelPublisher.Item] {
    shared.withLock { shared in
      shared.kernels.keys.sorted().compactMap { domain in
        let (kernel, isActive) = shared.kernels[domain]!
        guard kernel.stepCount > 0 else { return nil }
        var version = 1
        if let last = shared.ahead[domain] {
          if last.kernel == kernel && last.isActive == isActive {
            if last.isDelivered { return nil }
            version = last.version
          } else {
            version = last.version + 1
          }
        }
        shared.ahead[domain] = (kernel, isActive, version, false)
        return KernelPublisher.Item(kernel: kernel, kernelVersion: version, isActive: isActive)
      }
    }
  }

  /// Records that `items` were published ahead.
  func aheadDelivered(_ items: [KernelPublisher.Item]) {
    shared.withLock { shared in
      for item in items where shared.ahead[item.kernel.domain]?.version == item.kernelVersion {
        shared.ahead[item.kernel.domain]?.isDelivered = true
      }
    }
  }

  /// Stops the worker without waiting for it (the switch it prepared will not come here).
  func cancel() {
    shared.withLock { $0.isStopped = true }
    changed.signal()
  }

  private func run(
    make: @Sendable () throws -> Pipeline,
    history: @Sendable (TopicPartition, Int64, Int64) throws -> [Record]
  ) {
    defer {
      // Over (switched, failed or stopped): no partition lags behind a re-base any more.
      lag?.removeSeries { _ in true }
      finished.signal()
    }
    do {
      pipeline = try make()
      logger.info(
        "re-basing in the background on the new backbone",
        ["backbone": target.backboneSHA256, "dir": target.backboneDirectory])
      var read = 0
      var noted = ContinuousClock.now
      while let (partition, from, until) = nextChunk() {
        let records = try history(partition, from, until)
        try pipeline!.process(records.filter { !ControlRecord.isControl($0.value) })
        let kernels = pipeline!.trainer.kernels.reduce(into: [:]) { result, entry in
          result[entry.key] = (entry.value, pipeline!.isServing(entry.key))
        }
        let lag = shared.withLock { shared -> Int64 in
          shared.partitions[partition]?.next = until
          shared.kernels = kernels
          return shared.partitions.values.reduce(0) { $0 + max(0, $1.cap - $1.next) }
        }
        read += records.count
        if ContinuousClock.now - noted >= .seconds(10) {
          noted = .now
          logger.info(
            "background re-base",
            [
              "records_read": "\(read)", "behind_live_records": "\(lag)",
              "domains": "\(kernels.count)",
            ])
        }
      }
      logger.info("background re-base ended", ["records_read": "\(read)"])
    } catch {
      shared.withLock { $0.failure = "\(error)" }
    }
  }

  /// The next stretch to read, waiting while there is none; nil when it is done or stopped.
  private func nextChunk() -> (TopicPartition, Int64, Int64)? {
    while true {
      let step = shared.withLock { shared -> (TopicPartition, Int64, Int64)?? in
        if shared.isStopped { return .some(nil) }
        var work: (TopicPartition, Int64, Int64)?
        for (partition, progress) in shared.partitions.sorted(by: { $0.key < $1.key }) {
          let limit = shared.ends.map { $0[partition] ?? progress.next } ?? progress.cap
          lag?.with(partition.description).set(Double(max(0, limit - progress.next)))
          if work == nil && progress.next < limit {
            work = (partition, progress.next, min(limit, progress.next + 20_000))
          }
        }
        if let work { return .some(work) }
        if shared.ends != nil {
          shared.isDone = true
          return .some(nil)
        }
        return nil
      }
      if let step { return step }
      _ = changed.wait(timeout: .now() + 0.5)
    }
  }
}
