import Foundation
import Observability
import Stream
import Testing

@testable import Service

/// `iak-stream bench soak`: the loops' event lines byte for byte, the figures' arithmetic, and
/// a short run through the real serve path that prints its lines (no timing is asserted).
@Suite(.serialized) struct SoakBenchmarkTests {
  static func write(_ lines: [String], in folder: String) throws -> URL {
    let url = URL(fileURLWithPath: folder + "/events.jsonl")
    try (lines.joined(separator: "\n") + "\n").write(to: url, atomically: true, encoding: .utf8)
    return url
  }

  @Test func eachLoopMovesTimesBySpanAndMakesIdsNew() throws {
    let folder = try ServeBenchmarkTests.folder()
    defer { try? FileManager.default.removeItem(atPath: folder) }
    let lines = [
      #"{"type":"impression","id":"a1","ts":1000,"region":"east","user":"u1"}"#,
      #"{"ts": 4000, "type":"click","id":"a\"1","region":"west"}"#,
      #"{"type":"impression","ts":2500,"region":"east"}"#,
      "not json at all",
    ]
    let events = try BenchEvents.load(
      try Self.write(lines, in: folder), for: .soak, regionField: "region", partitions: 2,
      partitionBytes: .max, limit: .max)
    let stream = try SoakStream(events, timeField: "ts", idField: "id")
    #expect(stream.count == 4)
    #expect(stream.spanMs == 3001)
    func text(_ index: Int, _ loop: Int) -> String {
      String(decoding: stream.value(of: index, loop: loop), as: UTF8.self)
    }
    for index in 0..<4 { #expect(text(index, 0) == lines[index]) }
    #expect(
      text(0, 1) == #"{"type":"impression","id":"a1-L1","ts":4001,"region":"east","user":"u1"}"#)
    // The time before the id, an escaped quote inside the id, spaces after the colon.
    #expect(text(1, 2) == #"{"ts": 10002, "type":"click","id":"a\"1-L2","region":"west"}"#)
    // No id: only the time moves; no time: replayed as it is.
    #expect(text(2, 3) == #"{"type":"impression","ts":11503,"region":"east"}"#)
    #expect(text(3, 5) == "not json at all")
    // Regions keep their partition in every loop.
    #expect(stream.events.map(\.partition) == events.events.map(\.partition))

    let timeless = try BenchEvents.load(
      try Self.write([#"{"type":"impression","ts":"1998-01-01T00:00:00Z"}"#], in: folder),
      for: .soak, regionField: "region", partitions: 1, partitionBytes: .max, limit: .max)
    let error = #expect(throws: UsageError.self) {
      try SoakStream(timeless, timeField: "ts", idField: "id")
    }
    #expect("\(String(describing: error))".contains("integer 'ts'"))
  }

  @Test func figuresAreSummedAndTheSlopeIsTheLeastSquaresOne() {
    let text = """
      # TYPE iak_label_examples_total counter
      iak_label_examples_total{outcome="clicked"} 12
      iak_label_examples_total{outcome="timed_out"} 30
      iak_label_examples_total_other 5
      iak_router_domains 7
      iak_training_frozen_rows_bytes 17301504
      """
    #expect(SoakBenchmark.total("iak_label_examples_total", in: text) == 42)
    #expect(SoakBenchmark.total("iak_training_frozen_rows_bytes", in: text) == 17_301_504)
    #expect(SoakBenchmark.total("iak_router_domains", in: text) == 7)
    #expect(SoakBenchmark.total("iak_domains_retired_total", in: text) == 0)

    func minute(_ index: Int, _ megabytes: Double) -> SoakBenchmark.Minute {
      SoakBenchmark.Minute(
        index: index, residentMB: megabytes, lowestMB: 90, highestMB: megabytes + Double(index),
        eventsPerSecond: 1, examplesPerSecond: 1, domains: 3, snapshotMB: 0.5, loop: index,
        retired: 0, rejected: 2 * index)
    }
    // 100, 104, 102, 106: slope (sum of dx * dy) / (sum of dx^2) = (-1.5 * -3 + -0.5 * 1
    // + 0.5 * -1 + 1.5 * 3) / 5 = 8 / 5.
    let minutes = [minute(1, 100), minute(2, 104), minute(3, 102), minute(4, 106)]
    #expect(abs(SoakBenchmark.slope(minutes, of: \.residentMB) - 1.6) < 1e-12)
    // Highest: 101, 106, 105, 110 -> (-1.5 * -4.5 + -0.5 * 0.5 + 0.5 * -0.5 + 1.5 * 4.5) / 5.
    #expect(abs(SoakBenchmark.slope(minutes, of: \.highestMB) - 2.6) < 1e-12)
    #expect(SoakBenchmark.slope(minutes, of: \.lowestMB) == 0)
    #expect(SoakBenchmark.slope([minute(1, 100)], of: \.residentMB) == 0)
    let summary = SoakBenchmark.summary(
      minutes, outcome: ServeRun.Outcome(records: 10, examples: 8, snapshots: 2), loops: 3)
    #expect(summary.contains("RSS first minute 100.0 MB, last minute 106.0 MB (+6.0 MB)"))
    #expect(
      summary.contains(
        "slope 1.60 MB/min over all minutes (lowest per minute: 0.00), 4.00 MB/min over the "
          + "last 2 (lowest: 0.00)"), "\(summary)")
    // The trainer's ring of frozen rows is named apart from the domains, once it holds rows.
    var withRing = minute(2, 104)
    withRing.frozenRowsMB = 17.301504
    #expect(
      withRing.perDomainLine.hasSuffix("; besides the domains, the ring of frozen rows 17.3 MB"),
      "\(withRing.perDomainLine)")
    #expect(!minute(2, 104).perDomainLine.contains("frozen rows"))
    #expect(
      minute(2, 104).line
        == "minute 2: RSS 104.0 MB (lowest 90.0, highest 106.0 in the minute), 1 events/s, 1 "
        + "examples/s, 3 domains alive, snapshot 0.50 MB (loop 2, 0 domains retired so far, 0 "
        + "of them in the book, 4 events rejected)")
  }

  /// Runs a soak of `minutes` half-second "minutes" over 300 impressions (a backbone
  /// pretrained on them in `folder`), printing into `output`; `shutdown` is its context's.
  static func shortSoak(
    minutes: Int, in folder: String, shutdown: ShutdownSignal,
    output: @escaping @Sendable (String) -> Void
  ) throws -> (lines: [String], minutes: [SoakBenchmark.Minute]) {
    let lines = ServeFixture.events(impressions: 300)
    let events = try Self.write(lines, in: folder)
    let pretrain = CommandLineToolTests().run(
      ["pretrain", "--input", events.path, "--out", folder + "/bb"]
        + ServeBenchmarkTests.settings)
    #expect(pretrain.0 == 0, "\(pretrain.1.errors)")

    var configuration = Configuration()
    let overrides =
      ServeBenchmarkTests.settings.filter { $0 != "--set" } + [
        "checkpoint.interval=1s", "domain.max_domains=4",
      ]
    for setting in overrides { try configuration.apply(override: setting) }
    let context = CommandContext(
      arguments: try ParsedArguments.parse([], options: CommandSpec.bench.allOptions),
      configuration: configuration, logger: .disabled, metrics: MetricsRegistry(),
      shutdown: shutdown, output: output)
    var settings = SoakBenchmark.Settings(input: events, backbone: folder + "/bb")
    settings.minutes = minutes
    settings.interval = .milliseconds(500)
    settings.partitions = 2
    return (lines, try SoakBenchmark(context: context, settings: settings).run())
  }

  @Test func aShortSoakPrintsALinePerIntervalAndASummary() throws {
    let folder = try ServeBenchmarkTests.folder()
    defer { try? FileManager.default.removeItem(atPath: folder) }
    let captured = CommandLineToolTests.Captured()
    let (lines, minutes) = try Self.shortSoak(
      minutes: 3, in: folder, shutdown: ShutdownSignal(), output: { captured.write($0) })
    #expect(minutes.map(\.index) == [1, 2, 3])
    #expect(
      minutes.allSatisfy {
        $0.lowestMB > 0 && $0.lowestMB <= $0.residentMB && $0.residentMB <= $0.highestMB
          && $0.loop >= 1
      })
    let output = captured.output.split(separator: "\n").map(String.init)
    #expect(
      output.first?.hasPrefix("soak input: \(lines.count) events per loop") == true, "\(output)")
    #expect(output.filter { $0.hasPrefix("minute ") }.count == 3, "\(output)")
    // Bytes per domain: a line per minute, with the growth of the resident set per domain.
    let perDomain = output.filter { $0.hasPrefix("per domain at minute ") }
    #expect(perDomain.count == 3 && perDomain.allSatisfy { $0.contains(" RSS growth ") })
    #expect(output.dropLast().last?.hasPrefix("soak summary: 3 minutes, ") == true, "\(output)")
    // Then what the checkpoints took of the training thread.
    #expect(output.last?.hasPrefix("soak checkpoints: ") == true, "\(output)")
  }

  @Test func aSignalEndsTheSoakWithTheSummaryOfTheMinutesPrinted() throws {
    let folder = try ServeBenchmarkTests.folder()
    defer { try? FileManager.default.removeItem(atPath: folder) }
    let captured = CommandLineToolTests.Captured()
    let shutdown = ShutdownSignal()
    // As SIGINT would, once the second line is printed.
    let (_, minutes) = try Self.shortSoak(minutes: 1_000, in: folder, shutdown: shutdown) {
      captured.write($0)
      if $0.hasPrefix("minute 2:") { shutdown.request() }
    }
    #expect(minutes.map(\.index) == [1, 2])
    let output = captured.output.split(separator: "\n").map(String.init)
    let stopped = "soak stopped by a signal after 2 of 1000 minutes: what follows covers those"
    #expect(output.contains(stopped), "\(output)")
    #expect(output.contains { $0.hasPrefix("soak summary: 2 minutes, ") }, "\(output)")
    #expect(output.last?.hasPrefix("soak checkpoints: ") == true, "\(output)")
  }

  @Test func theCheckpointLineSumsEveryStepOfEveryCheckpoint() {
    var first = CheckpointTimings()
    first.encode = 0.5
    first.write = 0.25
    first.handOver = 0.125
    var second = CheckpointTimings()
    second.encode = 1
    second.write = 0.5
    second.metrics = 0.125
    // 0.875 + 1.625 = 2.5 s of checkpoints in a 100 s soak.
    #expect(
      SoakBenchmark.checkpointLine([first, second], seconds: 100)
        == "soak checkpoints: 2, 2.5 s in all on the training thread, 2.5% of the soak's 100 s; "
        + ServeBenchmark.stepsLine([first, second]))
    #expect(ServeBenchmark.stepsLine([first, second]).contains("encode 1.000/1.000"))
  }
}
