import Checkpoint
import Foundation
import Learner
import Stream

extension CommandSpec {
  /// `iak-stream bench`: benchmarks that print figures.
  public static let bench = CommandSpec(
    name: "bench",
    summary:
      "Run a benchmark and print its figures (bench \(Benchmark.names(separatedBy: " | ")))",
    usage:
      "iak-stream bench \(Benchmark.names(separatedBy: "|")) [--input FILE] "
      + "[--seconds S] [--backbone DIR] [--minutes M] [--streams N]",
    details: """
      learner     training examples/s, achieved GFLOP/s of the kernel step and single-thread
                  sgemm GFLOP/s measured in the same run, for batch sizes 16/32/128/512; then
                  the cost of scoring one arriving impression at serving time
      steps       the configured model (backbone.*, iak.*, train.*) at batches of 1, 4, 16
                  and 64 rows with train.steps_per_batch steps: examples/s of the per-batch
                  work (prepare, score, proxies, steps) and of a Trainer whose batches close
                  at that size, and the microseconds of prepare, score and one step
      decode      decoded events/s, and decode + join + route events/s, of the --input events
      kafka       records/s consumed from the embedded mock broker for --input over
                  --partitions (default 64), then the first 100,000 keyed by region through
                  decode, join and routing. The mock keeps about 5 MB per partition: an
                  input that does not fit is an error that says so (give more --partitions)
      checkpoint  encode/decode/sha256 throughput and one durable snapshot write and load
      serve       the real serve path in this process against an in-process mock cluster:
                  end to end, --input events produced region-keyed to a topic of
                  --partitions partitions (each partition capped at --partition-mb MB of
                  values, the mock keeps ~5 MB), then served (consumer thread, queue,
                  training thread, snapshots every checkpoint.interval, kernels published,
                  offsets committed) until all are processed: events/s and examples/s, next to
                  the same examples through a bare Trainer (learner only) and the ratio;
                  the end-to-end run again with train.frozen_rows = 0 (every batch row runs
                  the frozen layers again, as when labels wait longer than the ring holds
                  impressions: label.wait = 30m past 36 impressions/s). Then freshness:
                  serve with checkpoint.interval = --freshness-interval (default
                  500ms) while events are produced at --rate events/s (default half the
                  end-to-end rate) for --seconds S (default 10): p50/p99 from production
                  (record timestamp) and from arrival (poll) to the publication of the snapshot
                  covering the record, the parts of that wait (production -> poll -> trained ->
                  checkpoint start -> publication) and each checkpoint step's median and
                  maximum. Then, per label mode (--label-modes) and per rate (--label-rates),
                  events stamped with the wall clock as produced for --label-seconds (default
                  20): p50/p99 from an impression's production to the publication of a kernel
                  trained on it, and the part before its training; fake_negative runs once
                  more with train.close_at_checkpoint = true. Needs --backbone (default
                  backbone.dir)
      soak        the same serve path fed the --input events in a loop for --minutes M
                  (default 10), each loop moving event times forward by the stream's span so
                  that rolling windows keep making new domains; events are produced while serve
                  consumes (at most 20,000 records ahead, within the mock's ~5 MB per
                  partition). Prints a line per minute: resident memory (VmRSS), events/s and
                  examples/s in that minute, domains alive, newest snapshot size; then RSS of
                  the first and last minute and its slope in MB/min, and the checkpoints' share
                  of the training thread with each step's median/max. Input: the demo's events
                  after 1998-01-01 (integer `ts` times), e.g. out/demo/later.jsonl; --partitions
                  default 4. Needs --backbone (default backbone.dir). SIGINT or SIGTERM ends it
                  early with the summary of the minutes printed so far
      guard       the serving guard (drift.guard_* and drift.harm_window of the configuration)
                  on synthetic streams whose truth is known, at click rates 0.1% to 60%, --streams
                  seeds each (default 10): how soon a kernel that truly helps serves and how
                  often it is switched off by mistake, whether a kernel that ranks worse but
                  predicts the click level better ever serves, and how long a kernel that turns
                  harmful halfway keeps serving (a Markdown table)

      The process runs OpenBLAS with the kernels it selects for this CPU (OPENBLAS_CORETYPE
      is set before the library loads; `openblas_get_corename` is printed) and one BLAS thread,
      as the service does. Figures are printed, never asserted.
      """,
    options: [
      .value("--input", "FILE", "Events for decode and kafka (JSON lines)"),
      .value(
        "--seconds", "S",
        "Minimum measuring time per learner figure (default 1); serve: freshness run (default 10)"
      ),
      .value(
        "--partitions", "N",
        "Partitions of the mock topic (kafka: default 64, serve: 12, soak: 4; the mock keeps "
          + "~5 MB each)"),
      .value("--backbone", "DIR", "serve, soak: the backbone folder (default backbone.dir)"),
      .value("--partition-mb", "MB", "serve: value megabytes kept per partition (default 4)"),
      .value("--limit", "N", "serve: events used at most (default all that fit)"),
      .value("--rate", "R", "serve: events/s in the freshness run (default half end to end)"),
      .value(
        "--freshness-interval", "T",
        "serve: checkpoint.interval of the freshness run (default 500ms)"),
      .value(
        "--label-modes", "LIST",
        "serve: label modes of the label-mode freshness runs, comma-separated, or none "
          + "(default wait,fake_negative,es_dfm)"),
      .value("--label-seconds", "S", "serve: how long each label-mode run produces (default 20)"),
      .value(
        "--label-rates", "LIST",
        "serve: impressions/s of the label-mode runs, comma-separated; 'freshness' is the "
          + "freshness run's rate (default 3000,freshness)"),
      .value("--minutes", "M", "soak: minutes to run, one line each (default 10)"),
      .value("--streams", "N", "guard: seeded streams per click rate and scenario (default 10)"),
    ],
    run: { context in
      let arguments = context.arguments
      guard let word = arguments.positionals.first, arguments.positionals.count == 1 else {
        throw UsageError("bench takes one benchmark: \(Benchmark.phrase)")
      }
      guard let which = Benchmark(rawValue: word) else {
        throw UsageError("unknown benchmark '\(word)': give \(Benchmark.phrase)")
      }
      // A wrong --input is named as such before a benchmark starts (a folder read as events
      // was a Foundation error deep in the kafka benchmark, exit 1).
      if let input = arguments.value("--input") { try InputFile.check(input, named: "--input") }
      switch which {
      case .learner:
        let seconds = try arguments.positiveDouble("--seconds", default: 1) ?? 1
        context.print("openblas core: \(BLASRuntime.coreName)")
        let results = try LearnerBenchmark.run(batchSizes: [16, 32, 128, 512], seconds: seconds)
        for line in LearnerBenchmark.format(results) { context.print(line) }
        let scores = try LearnerBenchmark.servingScoresPerSecond(seconds: seconds)
        let share = results.first.map { 100 * $0.examplesPerSecond / scores } ?? 0
        context.print(
          "serving-time scoring (backbone + kernel on one arriving impression): "
            + "\(Int(scores)) impressions/s, \(String(format: "%.1f", 1e6 / scores)) µs each, "
            + "\(String(format: "%.0f", share))% on top of batch-16 training's time per example")
        let cores = ProcessInfo.processInfo.activeProcessorCount
        var oneThread = 0.0
        for threads in Set([1, 2, cores]).sorted() {
          let rate = try LearnerBenchmark.closingTogetherExamplesPerSecond(
            threads: threads, seconds: seconds)
          if threads == 1 { oneThread = rate }
          context.print(
            "64 batches of 32 closing together, train.threads = \(threads): \(Int(rate)) "
              + "examples/s (\(String(format: "%.2f", rate / oneThread))x one thread; \(cores) "
              + "cores, openblas core \(BLASRuntime.coreName))")
        }
      case .steps:
        let seconds = try arguments.positiveDouble("--seconds", default: 1) ?? 1
        let configuration = context.configuration
        let backbone = try configuration.backboneConfig()
        let kernel = try configuration.kernelConfig()
        let costs = try LearnerBenchmark.runBatchCosts(
          backbone: backbone, kernel: kernel, train: configuration.trainConfig, seconds: seconds)
        for line in LearnerBenchmark.format(costs, backbone: backbone, kernel: kernel) {
          context.print(line)
        }
      case .decode:
        let path = try arguments.required("--input")
        guard let data = FileManager.default.contents(atPath: path) else {
          throw ServiceError(.io, "cannot read --input \(path)")
        }
        let lines = data.split(separator: UInt8(ascii: "\n")).map { Array($0) }
        let schema = context.configuration.eventSchema
        context.print("decode: \(EventDecodingBenchmark.measure(lines: lines, schema: schema))")
        let router = try DomainRouter(
          configuration: try context.configuration.routerConfiguration())
        let joined = EventDecodingBenchmark.measureDecodeJoinRoute(
          lines: lines, schema: schema, joiner: context.configuration.joinerConfiguration,
          router: router)
        context.print("decode+join+route: \(joined)")
      case .kafka:
        let input = URL(fileURLWithPath: try arguments.required("--input"))
        let partitions = try arguments.int("--partitions", default: 64, in: 1...1024)
        context.print(
          "(\(partitions) partitions) "
            + "\(try KafkaThroughputBenchmark.run(input: input, partitions: partitions))")
        // The same records keyed by region as `produce` sends them, through the pipeline's
        // front half: decode, join clicks to impressions, route to domains.
        let configuration = context.configuration
        var ingest = try EventIngest(
          schema: configuration.eventSchema, joiner: configuration.joinerConfiguration,
          router: try configuration.routerConfiguration(), metrics: nil)
        var routed: [EventIngest.Routed] = []
        var rejected = 0
        var examples = 0
        let figures = try KafkaThroughputBenchmark.run(
          // Regions are few, so keyed partitions fill unevenly: the first 100,000 events stay
          // within the mock broker's ~5 MB per partition.
          input: input, partitions: partitions, limit: 100_000,
          key: EventProducer.key(byField: configuration.eventSchema.regionField),
          stages: "consume+decode+join+route",
          stage: { batch in
            for record in batch {
              do throws(EventRejection) {
                try ingest.ingest(record.value, partition: record.partition, into: &routed)
              } catch {
                rejected += 1
              }
              examples += routed.count
              routed.removeAll(keepingCapacity: true)
            }
          })
        context.print(
          "(\(partitions) partitions, keyed by region) \(figures); \(examples) examples, "
            + "\(rejected) rejected")
      case .checkpoint:
        let directory = FileManager.default.temporaryDirectory
          .appendingPathComponent("iak-bench-\(getpid())").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        context.print("\(try CheckpointBenchmark.run(directory: directory))")
      case .serve:
        var settings = ServeBenchmark.Settings(
          input: URL(fileURLWithPath: try arguments.required("--input")),
          backbone: arguments.value("--backbone")
            ?? context.configuration.settings.backbone.dir)
        settings.partitions = try arguments.int("--partitions", default: 12, in: 1...1024)
        settings.partitionBytes = Int(
          (try arguments.positiveDouble("--partition-mb", default: 4) ?? 4) * 1e6)
        settings.limit = try arguments.int("--limit", default: .max, in: 1...Int.max)
        settings.rate = try arguments.positiveDouble("--rate", default: nil)
        settings.seconds = try arguments.positiveDouble("--seconds", default: 10) ?? 10
        if let interval = arguments.value("--freshness-interval") {
          // Checked here, as the configuration checks it, rather than after the first run.
          var checked = context.configuration
          try checked.apply(override: "checkpoint.interval=\(interval)")
          settings.freshnessInterval = interval
        }
        settings.labelModeSeconds =
          try arguments.positiveDouble("--label-seconds", default: 20) ?? 20
        if let modes = arguments.value("--label-modes") {
          settings.labelModes = try Self.labelModes(modes)
        }
        if let rates = arguments.value("--label-rates") {
          settings.labelRates = try Self.labelRates(rates)
        }
        context.print("openblas core: \(BLASRuntime.coreName)")
        try ServeBenchmark(context: context, settings: settings).run()
      case .soak:
        var settings = SoakBenchmark.Settings(
          input: URL(fileURLWithPath: try arguments.required("--input")),
          backbone: arguments.value("--backbone")
            ?? context.configuration.settings.backbone.dir)
        settings.minutes = try arguments.int("--minutes", default: 10, in: 1...100_000)
        settings.partitions = try arguments.int("--partitions", default: 4, in: 1...1024)
        context.print("openblas core: \(BLASRuntime.coreName)")
        try SoakBenchmark(context: context, settings: settings).run()
      case .guard:
        let settings = context.configuration.driftSettings.guardSettings
        let streams = try arguments.int("--streams", default: 10, in: 1...10_000)
        let rows = GuardCalibration.run(settings: settings, streams: streams)
        for line in GuardCalibration.markdown(rows, settings: settings) { context.print(line) }
      }
      return 0
    })

  /// The rates `--label-rates` names: comma-separated positive impressions per second, or
  /// `freshness` (nil) for the freshness run's rate.
  ///
  /// - Throws: `UsageError` naming a value that is neither.
  static func labelRates(_ text: String) throws -> [Double?] {
    try text.split(separator: ",").map { word in
      let word = word.trimmingCharacters(in: .whitespaces)
      if word == "freshness" { return nil }
      guard let rate = Double(word), rate.isFinite, rate > 0 else {
        throw UsageError(
          "--label-rates: '\(word)' is neither a positive number of impressions/s nor freshness")
      }
      return rate
    }
  }

  /// The label modes `--label-modes` names: comma-separated `label.mode` values, or `none`.
  ///
  /// - Throws: `UsageError` naming a value that is not a mode.
  static func labelModes(_ text: String) throws -> [LabelJoiner.Mode] {
    if text == "none" { return [] }
    return try text.split(separator: ",").map { name in
      let name = name.trimmingCharacters(in: .whitespaces)
      guard let mode = LabelJoiner.Mode(rawValue: name) else {
        throw UsageError(
          "--label-modes: '\(name)' is not a label mode (wait, fake_negative, es_dfm or none)")
      }
      return mode
    }
  }
}
