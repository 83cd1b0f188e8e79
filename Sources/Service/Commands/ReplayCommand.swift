import Base
import Checkpoint
import Foundation
import Learner
import Observability
import Stream

extension CommandSpec {
  /// `iak-stream replay`: a bounded, deterministic run over history.
  public static let replay = CommandSpec(
    name: "replay",
    summary: "Rebuild or audit kernels over a bounded range of history; never commits offsets",
    usage: """
      iak-stream replay (--input events.jsonl | --topic T) [--from earliest|latest|P:O,... | \
      --from-offset O|P:O,... | --from-timestamp TIME] [--until end | --until-offset O|P:O,... | \
      --until-timestamp TIME] [--from-snapshot VERSION|DIR] --checkpoint-dir DIR \
      [--summary FILE] [--serving-scores FILE] [--publish-dir DIR] [--flush]
      """,
    details: """
      Runs the whole pipeline (decode, join, route, train, drift checks) over a bounded range of
      history and writes its own checkpoint directory; it never joins the live consumer group and
      never commits offsets. Replay is how an operator rebuilds kernels after a bad deploy or
      audits what a kernel learned: the same input from the same snapshot gives bit-identical
      kernels.

      Input: a Kafka topic (--topic, default the first of input.topics, on
      kafka.bootstrap.servers or --bootstrap-servers) or a JSON-lines file (--input; its records
      are partition 0, offset = line number from 0).

      Start: empty, or from a snapshot (--from-snapshot: a version of --checkpoint-dir, or
      another store's folder, whose newest valid snapshot is used) at the offsets that snapshot
      covers (Kafka partitions it never saw start at their earliest record). --from-offset
      (a line for files; PARTITION:OFFSET pairs for Kafka), --from-timestamp (RFC 3339, a date
      such as 1998-03-01 meaning midnight UTC, or epoch ms: the first record at or after it) or
      --from (earliest, latest or PARTITION:OFFSET pairs) override the start. For files a time
      is the events' time field; for Kafka it is the records' Kafka timestamp, which `produce`
      sets to the send time unless given --timestamp event.

      End (exclusive): --until-offset, --until-timestamp, or --until end (the default: the end
      each partition had when the replay started). Kafka partitions not named in --until-offset
      read to their end.

      It takes a snapshot every checkpoint.interval and at the end, and with --summary writes a
      JSON document with, per domain and overall, examples (the domain's labelled examples:
      what its figures are measured on), kernel_examples (per domain: all the kernel trained
      on, warm starts included), positives, AUC and log loss at serving time (each impression scored when it arrived: the kernel as it then stood, the
      backbone alone, and what was served), the same scored when the batch closed (training_*:
      a diagnostic that leaks labels of the same session), the information proxies, kernel
      versions and the alerts raised. --serving-scores writes, per example in training order, a
      tab-separated line: impression id, domain, label (0/1), backbone logit, kernel logit,
      served logit (for paired bootstraps and other analyses). --flush closes open batches and
      expires waiting impressions at the end (for a final result; without it the last snapshot
      can be resumed exactly).
      """,
    options: [
      .value("--input", "FILE", "JSON-lines events (instead of a Kafka topic)"),
      .value("--topic", "T", "Kafka topic to replay (default: first of input.topics)"),
      .value("--bootstrap-servers", "HOST:PORT", "Shortcut for --set kafka.bootstrap.servers=..."),
      .value("--from", "POSITION", "earliest, latest or PARTITION:OFFSET[,...]"),
      .value("--from-offset", "O|P:O,...", "First line (file) or offsets (Kafka) to read"),
      .value("--from-timestamp", "TIME", "Start at the first record at or after TIME"),
      .value("--until", "end", "Stop at the end each partition had at the start (default)"),
      .value("--until-offset", "O|P:O,...", "Stop before this line (file) or these offsets"),
      .value("--until-timestamp", "TIME", "Stop before the first record at or after TIME"),
      .value("--from-snapshot", "VERSION|DIR", "Start from this snapshot (default: empty)"),
      .value("--checkpoint-dir", "DIR", "Where the replay writes its snapshots (required)"),
      .value("--backbone", "DIR", "Backbone folder (default backbone.dir)"),
      .value("--summary", "FILE", "Write the JSON summary here"),
      .value(
        "--serving-scores", "FILE", "Write each example's serving-time logits here (TSV)"),
      .value("--publish-dir", "DIR", "Also write every changed kernel's serving file here"),
      .flag("--flush", "Close open batches and expire waiting impressions at the end"),
    ],
    run: { context in try ReplayTool(context: context).run() })
}

/// The replay command's run.
struct ReplayTool {
  let context: CommandContext

  func run() throws -> Int32 {
    let arguments = context.arguments
    if let input = arguments.value("--input") { try InputFile.check(input, named: "--input") }
    let configuration = try context.configuration.overridingBootstrapServers(
      arguments.value("--bootstrap-servers"))
    let backboneDirectory = arguments.value("--backbone") ?? configuration.settings.backbone.dir
    let backbone = try Backbone.load(from: backboneDirectory)
    let sha = backbone.weightsSHA256
    let store = try SnapshotStore(
      directory: try arguments.required("--checkpoint-dir"),
      keep: configuration.settings.checkpoint.keep)
    let publishDirectory = arguments.value("--publish-dir")
    let publisher = publishDirectory.map {
      KernelPublisher(
        producer: nil, topic: "", folder: $0, backboneSHA256: sha,
        kernelConfig: (try? configuration.kernelConfig()) ?? KernelConfig(),
        logger: context.logger, metrics: context.metrics)
    }
    let pipeline = try Pipeline(
      configuration: configuration, backbone: backbone, backboneSHA256: sha, store: store,
      publisher: publisher,
      alertEmitter: AlertEmitter(
        producer: nil, topic: "", logger: context.logger, metrics: context.metrics),
      deadLetters: nil, logger: context.logger, metrics: context.metrics)
    pipeline.backboneDirectory = backboneDirectory
    if let from = arguments.value("--from-snapshot") {
      let snapshot = try loadSnapshot(from, store: store, backboneSHA256: sha)
      try pipeline.restore(snapshot)
      context.logger.info(
        "restored",
        [
          "snapshot": "\(snapshot.manifest.version)",
          "offsets": pipeline.offsets.map { "\($0.key)=\($0.value)" }.sorted()
            .joined(separator: ","),
        ])
    }
    let scores = try arguments.value("--serving-scores").map(ServingScoreFile.init(path:))
    defer { scores?.close() }
    if let scores {
      pipeline.servingScoreSink = { id, domain, label, score in
        scores.write(id: id, domain: domain, label: label, score: score)
      }
    }
    let range = try makeRange(configuration, snapshotOffsets: pipeline.offsets)
    defer { range.source.close() }
    // A backbone switch waits for every partition with records to read.
    let readPartitions = range.partitionsWithRecords
    pipeline.inputPartitions = { readPartitions }
    pipeline.history = Pipeline.history(
      of: range.source, kafka: configuration.kafkaConfiguration)
    let interval = configuration.settings.checkpoint.interval
    let reporter = ProgressReporter(
      label: "replay", unit: "records", total: range.total, logger: context.logger)
    var sinceCheckpoint = 0
    var lastCheckpoint = Date()
    var lastProgress = ContinuousClock.now
    var done = 0
    while !context.shutdown.isRequested && !range.isFinished {
      let records = range.admit(
        try range.source.poll(maxRecords: 1000, timeout: .milliseconds(100)))
      if records.isEmpty {
        if range.source.isEndOfInput { break }
        if ContinuousClock.now - lastProgress > Self.stallLimit {
          throw UsageError(
            "replay stalled: no record for \(Self.stallLimit) with \(range.total - done) still "
              + "expected; the range may no longer be retained, or the cluster is unreachable")
        }
        continue
      }
      lastProgress = ContinuousClock.now
      try pipeline.process(records)
      done += records.count
      sinceCheckpoint += records.count
      reporter.update(done: done)
      let due: Bool
      switch interval {
      case .events(let count): due = sinceCheckpoint >= count
      case .milliseconds(let ms):
        due = Date().timeIntervalSince(lastCheckpoint) * 1000 >= Double(ms)
      }
      if due {
        try pipeline.checkpoint(createdAtMilliseconds: Self.now())
        sinceCheckpoint = 0
        lastCheckpoint = Date()
      }
    }
    reporter.finish()
    if arguments.has("--flush") { pipeline.flush() }
    let manifest = try pipeline.checkpoint(createdAtMilliseconds: Self.now())
    try scores?.finish()
    if let path = arguments.value("--summary") {
      let summary = ReplaySummary.document(of: pipeline, snapshotVersion: manifest?.version)
      OutputFolder.make(for: path)
      try Data(summary.utf8).write(to: URL(fileURLWithPath: path), options: .atomic)
    }
    let counts = pipeline.counts
    context.print(
      "replayed \(done) records (\(counts.rejected) rejected) into \(counts.examples) examples "
        + "over \(pipeline.trainer.domains.count) domains; snapshot \(manifest?.version ?? 0) in "
        + "\(store.directory)" + Self.unusedClicks(pipeline.labelCounts))
    return 0
  }

  /// `; N clicks labelled nothing (late L, ...)` when some did: with `label.wait` shorter than
  /// the stream's click delays every click is late, and the examples are all negative.
  static func unusedClicks(_ counts: LabelJoiner.Counts) -> String {
    let reasons = [
      ("late", counts.lateClicks), ("duplicate", counts.duplicateClicks),
      ("orphan", counts.orphanClicks), ("overflow", counts.overflowClicks),
    ].filter { $0.1 > 0 }
    guard !reasons.isEmpty else { return "" }
    var text =
      "; \(reasons.reduce(0) { $0 + $1.1 }) clicks labelled nothing ("
      + reasons.map { "\($0.0) \($0.1)" }.joined(separator: ", ") + ")"
    if counts.clicked == 0 && counts.lateClicks > 0 {
      text += ": no click came within label.wait of its impression"
    }
    return text
  }

  /// A replay gives up after this long without a record while records are still expected.
  static let stallLimit = Duration.seconds(30)

  private func makeRange(_ configuration: Configuration, snapshotOffsets: [TopicPartition: Int64])
    throws -> ReplayRange
  {
    let arguments = context.arguments
    let fromTime = try arguments.value("--from-timestamp").flatMap {
      try CommandSpec.parseTime($0, option: "--from-timestamp")
    }
    let untilTime = try arguments.value("--until-timestamp").flatMap {
      try CommandSpec.parseTime($0, option: "--until-timestamp")
    }
    if let until = arguments.value("--until"), until != "end" {
      throw UsageError("--until accepts only 'end'; use --until-offset or --until-timestamp")
    }
    let starts = [
      arguments.value("--from"), arguments.value("--from-offset"), fromTime.map { "\($0)" },
    ]
    guard starts.compactMap({ $0 }).count <= 1 else {
      throw UsageError("give one of --from, --from-offset and --from-timestamp")
    }
    if arguments.value("--until-offset") != nil && untilTime != nil {
      throw UsageError("give --until-offset or --until-timestamp, not both")
    }
    if let input = arguments.value("--input") {
      if arguments.value("--from") != nil {
        throw UsageError("--from is for Kafka topics; use --from-offset LINE with --input")
      }
      let file = TopicPartition(topic: "file", partition: 0)
      return try ReplayRange.file(
        input,
        from: try arguments.value("--from-offset").map { _ in
          Int64(try arguments.int("--from-offset", default: 0))
        } ?? (fromTime == nil ? snapshotOffsets[file] : nil),
        fromTime: fromTime,
        until: try arguments.value("--until-offset").map { _ in
          Int64(try arguments.int("--until-offset", default: 0))
        }, untilTime: untilTime, schema: configuration.eventSchema)
    }
    guard let topic = arguments.value("--topic") ?? configuration.settings.input.topics.first else {
      throw UsageError("no input: give --input FILE or --topic T (or set input.topics)")
    }
    let start: StartPosition? =
      try arguments.value("--from").map { try StartPosition(parsing: $0) }
      ?? arguments.value("--from-offset").map { try StartPosition(parsing: $0) }
      ?? fromTime.map { StartPosition.timestamp($0) }
    let until: StartPosition? =
      try arguments.value("--until-offset").map { try StartPosition(parsing: $0) }
      ?? untilTime.map { StartPosition.timestamp($0) }
    return try ReplayRange.kafka(
      topic: topic, configuration: configuration.kafkaConfiguration, start: start,
      snapshotOffsets: snapshotOffsets, until: until, logger: context.logger,
      metrics: context.metrics)
  }

  private func loadSnapshot(_ text: String, store: SnapshotStore, backboneSHA256: String) throws
    -> Snapshot
  {
    if let version = Int(text) {
      let snapshot = try store.load(version: version, expectingBackbone: backboneSHA256)
      if let problem = Pipeline.payloadProblem(of: snapshot) {
        throw ServiceError(
          .stateUnreadable,
          "snapshot \(version) in \(store.directory) cannot be used: \(problem); pick another "
            + "version (iak-stream kernels list)")
      }
      return snapshot
    }
    let other = try SnapshotStore(
      directory: text, keep: context.configuration.settings.checkpoint.keep, createIfMissing: false)
    return try other.newestValidSnapshot(
      expectingBackbone: backboneSHA256, logger: context.logger)
  }

  static func now() -> Int64 { Int64(Date().timeIntervalSince1970 * 1000) }
}
