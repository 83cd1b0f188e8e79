import Checkpoint
import Foundation
import Observability
import Stream

/// One `serve` run inside this process for `bench serve`: `ServeTool` on its own thread against
/// the mock cluster, with its own metrics registry, shutdown signal, snapshot folder and a
/// `FreshnessLog` that also measures from the records' timestamps.
final class ServeRun: Sendable {
  /// What a finished run left in its newest snapshot.
  struct Outcome {
    /// Records the snapshot covers.
    var records: Int
    /// Labelled examples trained on (or waiting in a batch).
    var examples: Int
    /// Snapshots written, published and committed.
    var snapshots: Int
  }

  /// How often the queue was seen empty (the training thread waiting for input) and the
  /// consumer paused (the queue full), sampled every millisecond while records are processed.
  struct QueueSamples {
    /// Samples taken.
    var count = 0
    /// Of which the queue was empty.
    var empty = 0
    /// Of which the consumer was paused.
    var paused = 0

    /// In words.
    var summary: String {
      String(
        format: "queue empty in %.0f%% and input paused in %.0f%% of %d samples",
        100 * Double(empty) / Double(max(count, 1)), 100 * Double(paused) / Double(max(count, 1)),
        count)
    }
  }

  /// The training thread's exact freshness figures and span.
  let freshness: FreshnessLog
  /// The run's metrics, as its metrics endpoint would show them.
  let registry: MetricsRegistry
  /// Its own series among them.
  let metrics: ServeMetrics
  /// Its snapshot folder (`checkpoint.dir`), removed when the run is released.
  let directory: String
  private let tool: ServeTool
  private let shutdown = ShutdownSignal()
  /// How serve's thread ended, once it has.
  private enum Ending: Sendable {
    /// `ServeTool.run()` returned this exit status.
    case exited(Int32)
    /// It threw this error.
    case threw(String)
  }

  private let ending = WaitableState<Ending?>(nil)

  /// The serve consumer's `fetch.wait.max.ms` in a run. The mock broker answers a fetch that
  /// found nothing only after this wait, even when records arrive meanwhile (a real broker
  /// answers as soon as they do): librdkafka's 500 ms default would add up to half a second
  /// of the mock's own to every freshness figure.
  static let fetchWaitMilliseconds = 50

  /// The kernel name of the thread `ServeTool.run()` runs on: the consumer loop's (poll,
  /// decode, serving inputs), as the main thread is in `iak-stream serve`.
  static let consumerThreadName = "iak-consumer"

  /// Prepares a run consuming `topic` of `cluster` in its own consumer group, keeping its
  /// freshness figures in `freshness` (by default also measured from the records' timestamps).
  ///
  /// - Throws: `ConfigError` when an override does not apply, `KafkaError` when the run's state
  ///   topic cannot be created.
  init(
    context: CommandContext, cluster: MockKafkaCluster, topic: String, backbone: String,
    overrides: [String], freshness: FreshnessLog = FreshnessLog(measuresProduceTime: true)
  ) throws {
    self.freshness = freshness
    directory =
      FileManager.default.temporaryDirectory
      .appendingPathComponent("iak-bench-serve-\(getpid())-\(topic)").path
    try? FileManager.default.removeItem(atPath: directory)
    var configuration = context.configuration
    // A state topic of its own: a run that gains its partitions reads their newest states back
    // by scanning the state topic, and the states earlier runs of the benchmark left there
    // (megabytes each) would stall its start.
    var stateTopic: [String] = []
    let sharedStateTopic = configuration.settings.checkpoint.stateTopic
    if !sharedStateTopic.isEmpty {
      try cluster.createTopic("\(sharedStateTopic)-\(topic)", partitions: 1)
      stateTopic = ["checkpoint.state_topic=\(sharedStateTopic)-\(topic)"]
    }
    let settings =
      [
        "input.source=kafka", "input.topics=\(topic)", "input.group_id=bench-\(topic)",
        "input.start=earliest", "kafka.bootstrap.servers=\(cluster.bootstrapServers)",
        "checkpoint.dir=\(directory)", "metrics.listen=127.0.0.1:0",
        "kafka.fetch.wait.max.ms=\(Self.fetchWaitMilliseconds)",
      ] + stateTopic + overrides
    for setting in settings { try configuration.apply(override: setting) }
    registry = MetricsRegistry()
    metrics = ServeMetrics(registry)
    let serveContext = CommandContext(
      arguments: try ParsedArguments.parse(
        ["--backbone", backbone], options: CommandSpec.serve.allOptions),
      configuration: configuration, logger: context.logger.child("serve"), metrics: registry,
      // serve's closing summary line is not a figure; the snapshot's counts are read instead.
      shutdown: shutdown, output: { _ in })
    tool = ServeTool(context: serveContext, observer: freshness)
  }

  deinit { try? FileManager.default.removeItem(atPath: directory) }

  /// Starts `serve` on its own thread.
  func start() {
    let thread = Thread.named(Self.consumerThreadName, stackSize: 16 << 20) { [self] in
      let result: Ending
      do {
        result = .exited(try tool.run())
      } catch {
        result = .threw("\(error)")
      }
      ending.update { $0 = result }
    }
    thread.start()
  }

  /// Whether serve's thread has ended (asked to stop, or failed).
  var hasFinished: Bool { ending.current != nil }

  /// Waits until the consumer owns partitions.
  ///
  /// - Throws: `UsageError` when serve stopped or `timeout` passed first.
  func waitUntilAssigned(timeout: Duration) throws {
    try wait(for: "partitions to be assigned", timeout: timeout) { metrics.assigned.value > 0 }
  }

  /// Waits until `count` records went through the pipeline; calls `firstConsumed` once, within
  /// a millisecond of the first record's consumption.
  ///
  /// - Throws: `UsageError` when serve stopped or `timeout` passed first.
  func waitUntilProcessed(
    _ count: Int, timeout: Duration, firstConsumed: () -> Void = {}
  ) throws -> QueueSamples {
    var samples = QueueSamples()
    var consuming = false
    try wait(for: "\(count) records to be processed", timeout: timeout) {
      if !consuming && metrics.consumed.value > 0 {
        consuming = true
        firstConsumed()
      }
      guard metrics.processed.value < Double(count) else { return true }
      if metrics.consumed.value > 0 {
        samples.count += 1
        if metrics.queued.value == 0 { samples.empty += 1 }
        if metrics.paused.value > 0 { samples.paused += 1 }
      }
      return false
    }
    return samples
  }

  /// Waits until a snapshot was published after the last record went through the pipeline.
  ///
  /// - Throws: `UsageError` when serve stopped or `timeout` passed first.
  func waitUntilPublishedAfterLastRecord(timeout: Duration) throws {
    try wait(for: "a snapshot covering the last record", timeout: timeout) {
      let span = freshness.span
      guard let processed = span.lastProcessed, let published = span.lastPublication else {
        return false
      }
      return published > processed
    }
  }

  /// Asks serve to stop, waits for its clean exit and reads its newest snapshot.
  ///
  /// - Throws: `UsageError` when serve failed or left no readable snapshot.
  func stop() throws -> Outcome {
    shutdown.request()
    ending.wait(until: { $0 != nil })
    switch ending.current {
    case .threw(let failure)?:
      throw UsageError("the benchmark's serve run failed: \(failure)")
    case .exited(let status)? where status != 0:
      throw UsageError("the benchmark's serve run exited with status \(status); see its log")
    case .exited?, nil:
      break
    }
    // Stopped before its first record (a soak stopped at once on a busy machine): serve writes
    // no snapshot for nothing read, and there is nothing to count.
    if metrics.processed.value == 0 && metrics.snapshots.value == 0 {
      return Outcome(records: 0, examples: 0, snapshots: 0)
    }
    let store = try SnapshotStore(directory: directory, keep: 1_000, createIfMissing: false)
    guard let snapshot = try store.loadNewestValid(expectingBackbone: nil).snapshot,
      let counts = try snapshot.payload.tensors[".pipeline/counts"]?.int64s(), counts.count >= 3
    else {
      throw UsageError("the benchmark's serve run left no snapshot with counts in \(directory)")
    }
    return Outcome(
      records: Int(counts[0]), examples: Int(counts[2]), snapshots: Int(metrics.snapshots.value))
  }

  private func wait(
    for what: String, timeout: Duration, until isDone: () -> Bool
  ) throws {
    let deadline = ContinuousClock.now + timeout
    while !isDone() {
      if hasFinished {
        throw UsageError("the benchmark's serve run stopped while waiting for \(what)")
      }
      if ContinuousClock.now >= deadline {
        shutdown.request()
        throw UsageError("the benchmark gave up waiting for \(what) after \(timeout)")
      }
      Thread.sleep(forTimeInterval: 0.001)
    }
  }
}
