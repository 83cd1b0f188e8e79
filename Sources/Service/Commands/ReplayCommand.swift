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
      iak-stream replay --input events.jsonl [--from-offset O] [--until-offset O] \
      [--from-snapshot VERSION|DIR] --checkpoint-dir DIR [--summary FILE] [--flush]
      """,
    details: """
      Runs the whole pipeline (decode, join, route, train, drift checks) over a bounded range of
      history and writes its own checkpoint directory; it never joins the live consumer group and
      never commits offsets. Replay is how an operator rebuilds kernels after a bad deploy or
      audits what a kernel learned: the same input from the same snapshot gives bit-identical
      kernels.

      The input is a JSON-lines file (records are partition 0, offset = line number from 0).
      It starts empty, or from a snapshot (--from-snapshot: a version of --checkpoint-dir, or
      another store's folder, whose newest valid snapshot is used) at the offset that snapshot
      covers; --from-offset overrides the start. It stops at --until-offset (exclusive) or the
      end of the input, takes a snapshot every checkpoint.interval and at the end, and with
      --summary writes a JSON document with, per domain and overall, examples, positives,
      prequential AUC and logloss of the kernel and of the backbone alone, the information
      proxies, kernel versions and the alerts raised. --flush closes open batches and expires
      waiting impressions at the end (for a final result; without it the last snapshot can be
      resumed exactly). Kafka ranges (--from-timestamp, partition:offset lists) come with the
      serve issue.
      """,
    options: [
      .value("--input", "FILE", "JSON-lines events (required)"),
      .value("--from-offset", "O", "First line to read (default: the snapshot's, else 0)"),
      .value("--until-offset", "O", "Stop before this line (default: end of input)"),
      .value("--from-snapshot", "VERSION|DIR", "Start from this snapshot (default: empty)"),
      .value("--checkpoint-dir", "DIR", "Where the replay writes its snapshots (required)"),
      .value("--backbone", "DIR", "Backbone folder (default backbone.dir)"),
      .value("--summary", "FILE", "Write the JSON summary here"),
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
    let configuration = context.configuration
    let backboneDirectory = arguments.value("--backbone") ?? configuration.string("backbone.dir")
    let backbone = try Backbone.load(from: backboneDirectory)
    let sha = backbone.weightsSHA256
    let store = try SnapshotStore(
      directory: try arguments.required("--checkpoint-dir"),
      keep: configuration.int("checkpoint.keep"))
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
    var start: Int64 = 0
    if let from = arguments.value("--from-snapshot") {
      let snapshot = try loadSnapshot(from, store: store, backboneSHA256: sha)
      try pipeline.restore(snapshot)
      start = pipeline.offsets.values.max() ?? 0
      context.logger.info(
        "restored", ["snapshot": "\(snapshot.manifest.version)", "next_offset": "\(start)"])
    }
    if arguments.value("--from-offset") != nil {
      start = Int64(try arguments.int("--from-offset", default: 0))
    }
    let until = arguments.value("--until-offset").map { _ in
      Int64((try? arguments.int("--until-offset", default: Int.max)) ?? Int.max)
    }
    let input = URL(fileURLWithPath: try arguments.required("--input"))
    let source = try FileRecordSource(url: input, topic: "file", startOffset: start)
    let interval = configuration.interval("checkpoint.interval")
    let reporter = ProgressReporter(
      label: "replay", unit: "records", total: nil, logger: context.logger)
    var sinceCheckpoint = 0
    var lastCheckpoint = Date()
    var done = 0
    while !context.shutdown.isRequested {
      var records = try source.poll(maxRecords: 1000, timeout: .zero)
      if let until { records.removeAll { $0.offset >= until } }
      if records.isEmpty { break }
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
    if let path = arguments.value("--summary") {
      let summary = ReplaySummary.document(of: pipeline, snapshotVersion: manifest?.version)
      try Data(summary.utf8).write(to: URL(fileURLWithPath: path), options: .atomic)
    }
    let counts = pipeline.counts
    context.print(
      "replayed \(done) records (\(counts.rejected) rejected) into \(counts.examples) examples "
        + "over \(pipeline.trainer.domains.count) domains; snapshot \(manifest?.version ?? 0) in "
        + "\(store.directory)")
    return 0
  }

  private func loadSnapshot(_ text: String, store: SnapshotStore, backboneSHA256: String) throws
    -> Snapshot
  {
    if let version = Int(text) {
      return try store.load(version: version, expectingBackbone: backboneSHA256)
    }
    let other = try SnapshotStore(
      directory: text, keep: context.configuration.int("checkpoint.keep"), createIfMissing: false)
    return try other.newestValidSnapshot(
      expectingBackbone: backboneSHA256, logger: context.logger)
  }

  static func now() -> Int64 { Int64(Date().timeIntervalSince1970 * 1000) }
}
