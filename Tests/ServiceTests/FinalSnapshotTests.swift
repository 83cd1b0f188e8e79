import Checkpoint
import Foundation
import Observability
import Synchronization
import Testing

@testable import Service

/// Issue 14 item 8: a final snapshot that fails (the disk is full) makes `serve` exit 1 with the
/// offsets the newest snapshot on disk covers, and it never reports as served the records no
/// snapshot covers (it exited 0 and said "served <all> records").
///
/// `serve` runs in this process (as `bench serve` runs it) on a JSON-lines input, so that its
/// snapshot store can be handed a simulated disk that fills.
@Suite struct FinalSnapshotTests {
  /// One in-process `serve` over `input`, with the store's writes taken from `disk`.
  struct Run {
    var status: Int32
    var output: String
    var log: [String]
  }

  static func serve(input: String, folder: String, disk: SimulatedDisk) throws -> Run {
    var configuration = try HostileInputTests.configuration()
    for setting in [
      "input.source=file", "input.file=\(input)", "checkpoint.dir=\(folder)/store",
      "metrics.listen=127.0.0.1:0", "checkpoint.interval=1h",
    ] {
      try configuration.apply(override: setting)
    }
    let lines = Mutex<[String]>([])
    let output = Mutex("")
    let context = CommandContext(
      arguments: try ParsedArguments.parse(
        ["--backbone", folder + "/bb"], options: CommandSpec.serve.allOptions),
      configuration: configuration,
      logger: Logger(
        label: "serve", level: .info, sink: { line in lines.withLock { $0.append(line) } }),
      metrics: MetricsRegistry(), shutdown: ShutdownSignal(),
      output: { text in output.withLock { $0 += text } })
    var tool = ServeTool(context: context)
    tool.storageFaults = .writing(to: disk)
    let status = try tool.run()
    return Run(status: status, output: output.withLock { $0 }, log: lines.withLock { $0 })
  }

  @Test func aFinalSnapshotThatFailsIsExit1WithTheOffsetsTheNewestSnapshotCovers() throws {
    let folder = try TemporaryFolder.make("iak-final")
    defer { try? FileManager.default.removeItem(atPath: folder) }
    let lines = HostileInputTests.goodLines(count: 600).map { String(decoding: $0, as: UTF8.self) }
    _ = try TestBackbone.pretrain(
      lines: lines, settings: HostileInputTests.settings + ["backbone.until="], in: folder)
    let half = lines.count / 2
    let input = folder + "/events.jsonl"
    try (lines[..<half].joined(separator: "\n") + "\n").write(
      toFile: input, atomically: true, encoding: .utf8)

    // The first run reads half the input and ends with a snapshot (version 1) covering it.
    let first = try Self.serve(input: input, folder: folder, disk: SimulatedDisk(freeBytes: .max))
    #expect(first.status == 0, "first run: \(first.log.suffix(5))")
    #expect(first.output.contains("served \(half) records"), "\(first.output)")

    // The second run reads the rest, but the disk is full when its final snapshot is written.
    try (lines.joined(separator: "\n") + "\n").write(
      toFile: input, atomically: true, encoding: .utf8)
    let second = try Self.serve(input: input, folder: folder, disk: SimulatedDisk(freeBytes: 64))
    #expect(second.status == 1, "a failed final snapshot exited \(second.status)")
    let failure = second.log.first { $0.contains("the final snapshot failed") } ?? "none"
    #expect(failure.contains("No space left on device"), "\(failure)")
    #expect(failure.contains("version 1"), "\(failure)")
    #expect(failure.contains("file/0=\(half)"), "\(failure)")
    #expect(failure.contains("covers \(half) of the \(lines.count) records"), "\(failure)")
    #expect(!second.output.contains("served \(lines.count)"), "\(second.output)")
    #expect(
      second.output.contains("read \(lines.count) records, of which \(half) are covered"),
      "\(second.output)")

    // Version 1 is still the newest snapshot, and a run with space left resumes from it.
    let store = try SnapshotStore(directory: folder + "/store", keep: 10, createIfMissing: false)
    let newest = try #require(try store.loadNewestValid(expectingBackbone: nil).snapshot)
    #expect(newest.version == 1)
    let third = try Self.serve(input: input, folder: folder, disk: SimulatedDisk(freeBytes: .max))
    #expect(third.status == 0)
    #expect(third.output.contains("served \(lines.count) records"), "\(third.output)")
  }
}
