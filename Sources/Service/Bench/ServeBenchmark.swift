import Foundation
import Learner
import Observability
import Stream
import Synchronization

/// `iak-stream bench serve`: the real `serve` path run in this process against an in-process
/// mock cluster, in two runs.
///
/// 1. End to end: region-keyed events are produced to a topic first; then `serve` (consumer
///    thread, queue, training thread, snapshots every `checkpoint.interval`, kernels published,
///    offsets committed) runs until every record is processed and covered by a published
///    snapshot. Next to it, the learner-only figure: the same examples through a bare `Trainer`
///    (no Kafka, no decoding, no snapshots), and the ratio of the two.
/// 2. Freshness: `serve` with `checkpoint.interval = Settings.freshnessInterval` while events
///    are produced at a steady rate; the waits from a record's production (its Kafka timestamp)
///    and from its poll to the publication of the snapshot covering it, the parts of that wait,
///    and the checkpoints' steps.
/// 3. Label-mode freshness (`labelModeFreshness`): per `label.mode`, events stamped with the
///    wall clock as produced; the wait from an impression's production to the publication of a
///    kernel trained on it.
struct ServeBenchmark {
  /// What the benchmark is given.
  struct Settings {
    /// JSON-lines events.
    var input: URL
    /// The backbone folder `serve` loads.
    var backbone: String
    /// Partitions of the input topics.
    var partitions = 12
    /// Value bytes kept per partition at most (the mock keeps about 5 MB per partition).
    var partitionBytes = 4_000_000
    /// Events used at most.
    var limit = Int.max
    /// Events per second produced in the freshness run (nil: half the end-to-end rate).
    var rate: Double?
    /// How long the freshness run produces, in seconds.
    var seconds = 10.0
    /// The label modes of the label-mode freshness runs (`labelModeFreshness`), in order.
    var labelModes: [LabelJoiner.Mode] = LabelJoiner.Mode.allCases
    /// How long each label-mode run produces, in seconds (longer than `label.wait` plus the
    /// out-of-orderness of `labelModeSettings`, so that `wait` trains some impressions).
    var labelModeSeconds = 20.0
    /// Impressions per second of the label-mode runs, one set of runs per rate, in order; nil
    /// stands for the freshness run's rate (half the end-to-end rate unless `rate` is set).
    var labelRates: [Double?] = [3000, nil]
    /// `checkpoint.interval` of the freshness run, as the configuration writes it.
    var freshnessInterval = "500ms"
  }

  /// What the end-to-end run measured.
  struct Throughput {
    /// Records produced and processed.
    var events: Int
    /// Labelled examples the pipeline made of them.
    var examples: Int
    /// From the first record's arrival to the last one through the pipeline.
    var pipelineSeconds: Double
    /// The checkpoint that covered the last record (snapshot and publish).
    var finalCheckpointSeconds: Double
    /// Snapshots written during the run.
    var snapshots: Int
    /// CPU seconds per thread name from the first record consumed to the last one through the
    /// pipeline.
    var threadSeconds: [String: Double]
    /// The wall time of that span.
    var threadWallSeconds: Double
    /// Batch rows that copied their frozen layers' output from serving, and that computed it
    /// (`iak_training_frozen_rows_total`).
    var rowsKept = 0.0
    var rowsComputed = 0.0

    /// Pipeline and final checkpoint.
    var seconds: Double { pipelineSeconds + finalCheckpointSeconds }

    /// CPU seconds per example over every thread (`threadSeconds`).
    var cpuSecondsPerExample: Double {
      threadSeconds.values.reduce(0, +) / Double(max(1, examples))
    }
  }

  let context: CommandContext
  let settings: Settings

  /// Learner-only runs per thread count; the fastest counts.
  static let learnerRepeats = 3

  /// Runs both parts and prints their figure lines as it goes.
  ///
  /// - Throws: `UsageError` for unusable input or settings, `KafkaError` when the mock cluster
  ///   fails, or the error that stopped `serve`.
  func run() throws {
    let configuration = context.configuration
    let events = try BenchEvents.load(
      settings.input, for: .serve, regionField: configuration.settings.domain.regionField,
      partitions: settings.partitions, partitionBytes: settings.partitionBytes,
      limit: settings.limit)
    context.print(events.summary)
    context.print(
      "serve runs with kafka.fetch.wait.max.ms = \(ServeRun.fetchWaitMilliseconds): the mock "
        + "broker holds a fetch that found nothing for that long even when records arrive "
        + "meanwhile (a real broker answers when they arrive)")
    let cluster = try MockKafkaCluster.make(brokers: 1, logger: context.logger.child("mock"))
    for topic in Self.serviceTopics(configuration) {
      try cluster.createTopic(topic, partitions: 1)
    }

    let learner = try LearnerOnlyRun(
      configuration: configuration, backbone: settings.backbone, events: events,
      logger: context.logger.child("learner"))
    // Learner-only at 1 and 2 training threads and at every core, and at the configured count
    // (the one end to end runs with). Each the fastest of `learnerRepeats` runs: a first run
    // pays for page faults and cold caches, and a slow learner figure would flatter the ratio.
    let configured = configuration.trainConfig.effectiveThreads
    let cores = ProcessInfo.processInfo.activeProcessorCount
    var learnerRuns: [LearnerOnlyRun.Outcome] = []
    for threads in Set([1, 2, cores, configured]).sorted() {
      var runs: [LearnerOnlyRun.Outcome] = []
      for _ in 0..<Self.learnerRepeats { runs.append(try learner.train(threads: threads)) }
      let outcome = runs.min { $0.seconds < $1.seconds }!
      learnerRuns.append(outcome)
      context.print(
        String(
          format: "learner only, train.threads = %d: %d examples in %.3f s = %.0f examples/s "
            + "(%.2fx one thread; the fastest of %d runs: %@ s); %d batches, %d of them closed "
            + "together (%.1f%%); %d of another domain than the batch before; %d cores, "
            + "openblas core %@", threads,
          learner.items.count, outcome.seconds, Double(learner.items.count) / outcome.seconds,
          learnerRuns[0].seconds / outcome.seconds, runs.count,
          runs.map { String(format: "%.3f", $0.seconds) }.joined(separator: ", "),
          outcome.batches, outcome.batchesClosedTogether,
          100 * Double(outcome.batchesClosedTogether) / Double(max(1, outcome.batches)),
          outcome.domainChanges, cores, BLASRuntime.coreName))
    }
    let learnerSeconds = learnerRuns.first { $0.threads == configured }?.seconds ?? 0
    let throughput = try endToEnd(events, cluster: cluster)
    context.print(
      String(
        format: "end to end: %d events, %d examples in %.3f s (pipeline %.3f s + final "
          + "snapshot and publish %.3f s; %d snapshots at checkpoint.interval = %@) = %.0f "
          + "events/s, %.0f examples/s", throughput.events, throughput.examples,
        throughput.seconds, throughput.pipelineSeconds, throughput.finalCheckpointSeconds,
        throughput.snapshots, configuration.string("checkpoint.interval"),
        Double(throughput.events) / throughput.seconds,
        Double(throughput.examples) / throughput.seconds))
    context.print(
      String(
        format: "learner only: %d examples in %.3f s = %.0f examples/s (bare Trainer: no "
          + "Kafka, no decoding, no drift monitor, no snapshots; train.threads = %d as end to "
          + "end)", learner.items.count, learnerSeconds,
        Double(learner.items.count) / learnerSeconds, configured))
    if learner.items.count != throughput.examples {
      context.logger.warning(
        "serve and the learner-only run made different numbers of examples",
        ["serve": "\(throughput.examples)", "learner": "\(learner.items.count)"])
    }
    context.print(
      String(
        format: "ratio end to end / learner only: %.1f%% (examples/s; target >= 80%%)",
        100 * (Double(throughput.examples) / throughput.seconds)
          / (Double(learner.items.count) / learnerSeconds)))

    context.print(
      Self.cpuLine(
        throughput, learnerSeconds: learnerSeconds, learnerExamples: learner.items.count))
    context.print(
      Self.ceilingLine(
        throughput, cores: cores, learnerRate: Double(learner.items.count) / learnerSeconds))
    // The run above finds the serving-time rows its batches need when labels come soon after
    // their impressions, as in this input's event time; a stream whose labels wait longer than
    // the ring holds impressions computes every row again on the training thread.
    let computed = try endToEnd(
      events, cluster: cluster, topic: "bench-serve-rows-computed",
      overrides: ["train.frozen_rows=0"], printsDetail: false)
    context.print(
      Self.computedRowsLine(
        computed, configuration: configuration,
        learnerRate: Double(learner.items.count) / learnerSeconds))

    let rate = settings.rate ?? 0.5 * Double(throughput.events) / throughput.seconds
    try freshness(events, rate: rate, cluster: cluster)
    for labelRate in settings.labelRates {
      try labelModeFreshness(events, rate: labelRate ?? rate, cluster: cluster)
    }
  }

  /// Produces every event to `topic`, then serves them with the configured checkpoint interval
  /// and `overrides`; with `printsDetail`, prints the run's samples, frozen rows and checkpoint
  /// steps.
  private func endToEnd(
    _ events: BenchEvents, cluster: MockKafkaCluster, topic: String = "bench-serve",
    overrides: [String] = [], printsDetail: Bool = true
  ) throws -> Throughput {
    try cluster.createTopic(topic, partitions: settings.partitions)
    let producer = try KafkaProducer.make(
      configuration: KafkaConfiguration(bootstrapServers: cluster.bootstrapServers)
        .setting("linger.ms", "5").setting("queue.buffering.max.messages", "1000000"),
      logger: context.logger.child("producer"))
    try events.produce(to: topic, with: producer)
    try producer.close(timeout: .seconds(120))

    // The throughput run watches only the span (first record polled to last one trained): it
    // does not make the pipeline keep every trained impression's time, as `serve` does not.
    let run = try ServeRun(
      context: context, cluster: cluster, topic: topic, backbone: settings.backbone,
      overrides: overrides,
      freshness: FreshnessLog(measuresProduceTime: true, watchesTrainedImpressions: false))
    var cpuBefore = ThreadTimes.now()
    var started = ContinuousClock.now
    run.start()
    // CPU from the first record on: serve's start (backbone load, group join) is not per event.
    let samples = try run.waitUntilProcessed(events.count, timeout: .seconds(600)) {
      cpuBefore = ThreadTimes.now()
      started = ContinuousClock.now
    }
    // Before the stop: serve's threads end with it, and their times with them.
    let threadSeconds = ThreadTimes.now().secondsByName(since: cpuBefore)
    let threadWallSeconds = (ContinuousClock.now - started).inSeconds
    if printsDetail { context.print("end to end: \(samples.summary)") }
    let outcome = try run.stop()
    let rows = LearnerMetrics(registry: run.registry).frozenRows
    let (kept, computed) = (rows.with("kept").value, rows.with("computed").value)
    if printsDetail {
      context.print(
        Self.frozenRowsLine(kept: kept, computed: computed, configuration: context.configuration))
      // The final snapshot is in the end-to-end time: where it goes.
      context.print("end to end: " + Self.stepsLine(run.freshness.checkpoints))
    }
    let span = run.freshness.span
    guard let first = span.firstArrival, let last = span.lastProcessed else {
      throw UsageError("bench serve: serve processed no records from the mock topic")
    }
    return Throughput(
      events: events.count, examples: outcome.examples,
      pipelineSeconds: (last - first).inSeconds,
      finalCheckpointSeconds: span.lastCheckpointSeconds, snapshots: outcome.snapshots,
      threadSeconds: threadSeconds, threadWallSeconds: threadWallSeconds,
      rowsKept: kept, rowsComputed: computed)
  }

  /// How many rows of the run's closed batches copied their frozen layers' output from their
  /// serving scores and how many computed it (`iak_training_frozen_rows_total`): the share
  /// depends on how many impressions are scored while one waits for its label, against
  /// `train.frozen_rows`.
  static func frozenRowsLine(kept: Double, computed: Double, configuration: Configuration)
    -> String
  {
    String(
      format: "end to end: %.0f batch rows kept their frozen layers' output from serving "
        + "(%.1f%%), %.0f computed it again (train.frozen_rows = %@)", kept,
      100 * kept / max(1, kept + computed), computed, configuration.string("train.frozen_rows"))
  }

  /// The end-to-end run again with `train.frozen_rows = 0` (`computed`): every batch row runs
  /// the layers below the kernel again on the training thread, as on a stream whose labels wait
  /// longer than the ring holds impressions. With `label.release = in_order` every impression
  /// waits `label.wait`, so the ring finds no row on any stream of more than `train.frozen_rows`
  /// impressions per `label.wait`.
  static func computedRowsLine(
    _ computed: Throughput, configuration: Configuration, learnerRate: Double
  ) -> String {
    let rows = configuration.settings.train.frozenRows
    let waitSeconds = configuration.settings.label.wait.inSeconds
    let rate = Double(computed.examples) / computed.seconds
    let training = computed.threadSeconds["iak-training"] ?? 0
    return String(
      format: "end to end with every batch row computed again (train.frozen_rows = 0: labels "
        + "that wait longer than the ring of %d rows holds impressions, as label.wait = %@ "
        + "does past %.1f impressions/s): %d examples in %.3f s = %.0f examples/s, %.1f%% of "
        + "the learner only; training thread %.1f us per example; batch rows kept %.0f, "
        + "computed %.0f", rows, configuration.string("label.wait"),
      Double(rows) / max(waitSeconds, 1e-9), computed.examples, computed.seconds, rate,
      100 * rate / learnerRate, 1e6 * training / Double(max(1, computed.examples)),
      computed.rowsKept, computed.rowsComputed)
  }

  /// Where the end-to-end run's CPU went, per thread, against the learner alone: the work per
  /// example around the learner, which the ratio cannot hide. Threads are told apart by name;
  /// with `train.threads > 1` the training workers (Dispatch's threads) count as other, and
  /// threads that ended within the span (a checkpoint's fan-out) are not counted.
  static func cpuLine(_ throughput: Throughput, learnerSeconds: Double, learnerExamples: Int)
    -> String
  {
    var rest = throughput.threadSeconds
    func take(_ name: String) -> Double { rest.removeValue(forKey: name) ?? 0 }
    let training = take("iak-training")
    let consumer = take(ServeRun.consumerThreadName)
    let kafka = rest.filter { $0.key.hasPrefix("rdk:") }.values.reduce(0, +)
    let other = rest.values.reduce(0, +) - kafka
    let perExample = { (seconds: Double) in 1e6 * seconds / Double(max(1, throughput.examples)) }
    return String(
      format: "end to end CPU from the first record consumed to the last one through the "
        + "pipeline, %.2f s of wall time: training thread %.2f s (%.1f us per example: join, "
        + "route, serving scores, drift checks, training, checkpoints), consumer thread %.2f s "
        + "(%.1f us per event: poll, decode, serving inputs), librdkafka (consumer, producers, "
        + "mock broker) %.2f s, other threads %.2f s; in all %.1f us of CPU per example, "
        + "against %.1f us of wall time per example for the learner alone",
      throughput.threadWallSeconds, training,
      perExample(training), consumer,
      1e6 * consumer / Double(max(1, throughput.events)), kafka, other,
      1e6 * throughput.cpuSecondsPerExample,
      1e6 * learnerSeconds / Double(max(1, learnerExamples)))
  }

  /// The most the end-to-end path could reach on `cores` with the CPU per example this run
  /// spent (`cpuLine`): every core busy all the time, none waiting on another. The ratio cannot
  /// pass it without less CPU per example, however the work is spread over threads; the line
  /// says the CPU per example the 80% target allows on these cores.
  static func ceilingLine(_ throughput: Throughput, cores: Int, learnerRate: Double) -> String {
    let cpu = throughput.cpuSecondsPerExample
    let ceiling = cpu > 0 ? Double(max(1, cores)) / cpu : .infinity
    let allowed = Double(max(1, cores)) / (0.8 * learnerRate)
    return String(
      format: "end to end ceiling at this CPU per example: %.1f us of CPU per example on %d "
        + "cores, all busy all the time, is at most %.0f examples/s, %.1f%% of the learner "
        + "only; 80%% of the learner only allows %.1f us of CPU per example on %d cores, "
        + "%.1f us of them for all but the learning itself (the learner alone: %.1f us per "
        + "example)",
      1e6 * cpu, cores, ceiling, 100 * ceiling / learnerRate, 1e6 * allowed, cores,
      1e6 * (allowed - 1 / learnerRate), 1e6 / learnerRate)
  }

  /// Serves with `checkpoint.interval = settings.freshnessInterval` while producing at `rate`
  /// events per second.
  private func freshness(_ events: BenchEvents, rate: Double, cluster: MockKafkaCluster) throws {
    let topic = "bench-freshness"
    try cluster.createTopic(topic, partitions: settings.partitions)
    let count = min(events.count, max(1, Int(rate * settings.seconds)))
    let run = try ServeRun(
      context: context, cluster: cluster, topic: topic, backbone: settings.backbone,
      overrides: ["checkpoint.interval=\(settings.freshnessInterval)"])
    run.start()
    try run.waitUntilAssigned(timeout: .seconds(60))
    let producer = try KafkaProducer.make(
      configuration: KafkaConfiguration(bootstrapServers: cluster.bootstrapServers),
      logger: context.logger.child("producer"))
    let produceSeconds = try events.produce(
      to: topic, with: producer, count: count, eventsPerSecond: rate)
    _ = try run.waitUntilProcessed(count, timeout: .seconds(600))
    // Stop only once an interval snapshot covers everything, so the stop request's own delay
    // is not counted as waiting.
    try run.waitUntilPublishedAfterLastRecord(timeout: .seconds(60))
    _ = try run.stop()
    try producer.close(timeout: .seconds(10))

    let log = run.freshness
    func quantiles(_ origin: FreshnessLog.Origin) -> String {
      guard let p50 = log.quantile(0.5, from: origin), let p99 = log.quantile(0.99, from: origin)
      else { return "no records measured" }
      return String(
        format: "p50 %.3f s, p99 %.3f s, max %.3f s over %d records", p50, p99,
        log.quantile(1, from: origin) ?? p99, log.recordCount(from: origin))
    }
    context.print(
      String(
        format: "freshness run: %d events produced at %.0f events/s over %.1f s, "
          + "checkpoint.interval = %@", count, Double(count) / max(produceSeconds, 1e-9),
        produceSeconds, settings.freshnessInterval))
    context.print(
      "freshness from production (record timestamp set by the producer at send) to the "
        + "publication of the snapshot covering the record: \(quantiles(.produce)) "
        + "(target p99 < 1 s at 500ms)")
    context.print(
      "freshness from arrival (the serve consumer's poll) to that publication: "
        + quantiles(.poll))
    context.print(Self.partsLine(log))
    context.print(Self.stepsLine(log.checkpoints))
  }

  /// The parts of the wait from production, record-weighted p50 and p99 of each.
  static func partsLine(_ log: FreshnessLog) -> String {
    let parts = FreshnessLog.Part.allCases.map { part in
      guard let p50 = log.quantile(0.5, in: part), let p99 = log.quantile(0.99, in: part) else {
        return "\(part.label) not measured"
      }
      return String(format: "%@ p50 %.3f s, p99 %.3f s", part.label, p50, p99)
    }
    return "freshness parts (record-weighted): " + parts.joined(separator: "; ")
  }

  /// Each checkpoint step's median and maximum over the checkpoints that published.
  static func stepsLine(_ checkpoints: [CheckpointTimings]) -> String {
    guard let first = checkpoints.first else { return "checkpoint steps: no checkpoint" }
    let steps = first.steps.indices.map { index in
      let seconds = checkpoints.map { $0.steps[index].seconds }.sorted()
      return String(
        format: "%@ %.3f/%.3f", first.steps[index].name, seconds[seconds.count / 2],
        seconds.last!)
    }
    let counted = checkpoints.count == 1 ? "1 checkpoint" : "\(checkpoints.count) checkpoints"
    return "checkpoint steps (median/max s over \(counted)): " + steps.joined(separator: ", ")
  }

  /// The topics `serve` writes to, made in the mock cluster (it cannot create topics itself).
  static func serviceTopics(_ configuration: Configuration) -> [String] {
    configuration.settings.outputTopics
  }
}
