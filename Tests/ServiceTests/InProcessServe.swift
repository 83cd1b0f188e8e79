import Checkpoint
import Foundation
import Observability
import Synchronization
import Testing

@testable import Service

/// `serve` run in this process (as `bench serve` runs it) on a JSON-lines input file, with a
/// backbone pretrained on the synthetic stream of the replay tests: for what only a snapshot
/// store handed a simulated disk, or the log lines of one run, can show.
final class InProcessServe {
  /// How one run ended.
  struct Run {
    var status: Int32
    var output: String
    var log: [String]

    /// The log lines containing `text`.
    func lines(containing text: String) -> [String] { log.filter { $0.contains(text) } }
  }

  let folder: String
  /// The synthetic stream, clicks split from their impressions.
  let lines: [String]
  /// The input file every run reads (`write(upTo:)` changes it).
  var input: String { folder + "/events.jsonl" }
  var store: String { folder + "/store" }

  init(impressions: Int = 600) throws {
    folder = try TemporaryFolder.make("iak-inprocess")
    lines = HostileInputTests.goodLines(count: impressions).map {
      String(decoding: $0, as: UTF8.self)
    }
    _ = try TestBackbone.pretrain(
      lines: lines, settings: HostileInputTests.settings + ["backbone.until="], in: folder)
  }

  deinit { try? FileManager.default.removeItem(atPath: folder) }

  /// Makes the input file hold the first `count` lines.
  func write(upTo count: Int) throws {
    try (lines[..<count].joined(separator: "\n") + "\n").write(
      toFile: input, atomically: true, encoding: .utf8)
  }

  /// Runs serve to the end of the input with `settings` (`key=value`) over the standard ones,
  /// its store's writes taken from `disk`.
  /// - Throws: what `serve` throws (a usage or configuration error, a refused snapshot).
  func run(
    settings: [String] = [], disk: SimulatedDisk = SimulatedDisk(freeBytes: .max)
  ) throws -> Run {
    var configuration = try HostileInputTests.configuration()
    for setting in [
      "input.source=file", "input.file=\(input)", "checkpoint.dir=\(store)",
      "metrics.listen=127.0.0.1:0", "checkpoint.interval=1h",
    ] + settings {
      try configuration.apply(override: setting)
    }
    let logged = Mutex<[String]>([])
    let output = Mutex("")
    let context = CommandContext(
      arguments: try ParsedArguments.parse(
        ["--backbone", folder + "/bb"], options: CommandSpec.serve.allOptions),
      configuration: configuration,
      logger: Logger(
        label: "serve", level: .info, sink: { line in logged.withLock { $0.append(line) } }),
      metrics: MetricsRegistry(), shutdown: ShutdownSignal(),
      output: { text in output.withLock { $0 += text } })
    var tool = ServeTool(context: context)
    tool.storageFaults = .writing(to: disk)
    let status = try tool.run()
    return Run(status: status, output: output.withLock { $0 }, log: logged.withLock { $0 })
  }
}
