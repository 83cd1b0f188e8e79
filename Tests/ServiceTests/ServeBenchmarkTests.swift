import Foundation
import Stream
import Testing

@testable import Service

/// `iak-stream bench serve` on a tiny input: it runs the real serve path in process and prints
/// its figure lines (no timing is asserted), and its input keeps under the mock's retention.
@Suite(.serialized) struct ServeBenchmarkTests {
  static let settings = [
    "--set", "backbone.fields=user,item", "--set", "backbone.buckets=512",
    "--set", "backbone.hidden=16,8", "--set", "backbone.until=",
    "--set", "domain.window=every 1d", "--set", "train.batch_max=8",
    "--set", "label.wait=1m",
  ]

  static func folder() throws -> String {
    let folder =
      FileManager.default.temporaryDirectory
      .appendingPathComponent("iak-bench-test-\(UUID().uuidString.prefix(8))").path
    try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    return folder
  }

  @Test func benchServePrintsEndToEndLearnerOnlyAndFreshnessFigures() throws {
    let folder = try Self.folder()
    defer { try? FileManager.default.removeItem(atPath: folder) }
    let lines = ServeFixture.events(impressions: 400)
    let events = folder + "/events.jsonl"
    try (lines.joined(separator: "\n") + "\n").write(
      toFile: events, atomically: true, encoding: .utf8)
    let pretrain = CommandLineToolTests().run(
      ["pretrain", "--input", events, "--out", folder + "/bb"] + Self.settings)
    #expect(pretrain.0 == 0, "\(pretrain.1.errors)")

    let (status, captured) = CommandLineToolTests().run(
      [
        "bench", "serve", "--input", events, "--backbone", folder + "/bb", "--partitions", "3",
        "--seconds", "1", "--rate", "1000", "--log-level", "error", "--label-modes",
        "fake_negative,wait", "--label-seconds", "1.5", "--label-rates", "700",
      ] + Self.settings)
    #expect(status == 0, "\(captured.errors)")
    let output = captured.output
    func line(_ prefix: String) -> String? {
      output.split(separator: "\n").first { $0.hasPrefix(prefix) }.map(String.init)
    }
    func number(after marker: String, in text: String?) -> Int? {
      guard let text, let range = text.range(of: marker) else { return nil }
      return Int(text[range.upperBound...].prefix { $0.isNumber })
    }
    // Everything fits: every record is produced, served and counted.
    #expect(
      line("serve bench input:")?.hasPrefix(
        "serve bench input: \(lines.count) of \(lines.count) events") == true, "\(output)")
    let endToEnd = line("end to end: \(lines.count) events, ")
    let served = try #require(number(after: "events, ", in: endToEnd), "\(output)")
    // Two bad records make no example; the rest are impressions and clicks.
    #expect(served > 0 && served < lines.count)
    // The bare trainer gets exactly the examples serve made.
    #expect(number(after: "learner only: ", in: line("learner only:")) == served, "\(output)")
    #expect(line("end to end ceiling at this CPU per example: ") != nil, "\(output)")
    // ...at one and two training threads, the same batches closed either way.
    let one = try #require(line("learner only, train.threads = 1: "), "\(output)")
    let two = try #require(line("learner only, train.threads = 2: "), "\(output)")
    #expect(number(after: "threads = 1: ", in: one) == served)
    #expect(number(after: "threads = 2: ", in: two) == served)
    // Each is the fastest of three runs, whose times it lists.
    #expect(one.contains("examples/s (1.00x one thread; the fastest of 3 runs: "), "\(one)")
    let batches = try #require(number(after: " s); ", in: one), "\(one)")
    #expect(batches > 0)
    #expect(two.contains("; \(batches) batches, "), "\(two)")
    #expect(line("ratio end to end / learner only: ") != nil, "\(output)")
    // The end-to-end run's final snapshot is in its time: its steps are shown.
    let finalSteps = try #require(
      line("end to end: checkpoint steps (median/max s over "), "\(output)")
    #expect(
      finalSteps.contains(", encode ") && finalSteps.contains(", hand-over "), "\(finalSteps)")
    // Where the CPU went: serve's training and consumer threads are found by their names, and
    // each did some of the work. (On this tiny input a thread's seconds may print as 0.00; its
    // microseconds per example or event, "training thread 0.01 s (29.6 us per", may not.)
    let cpu = try #require(line("end to end CPU from the first record consumed"), "\(output)")
    for thread in ["training thread ", "consumer thread "] {
      let figure = cpu.range(of: thread).flatMap { start in
        cpu[start.upperBound...].range(of: " s (").map {
          cpu[$0.upperBound...].prefix { $0 != " " }
        }
      }
      let micros = try #require(figure.flatMap { Double($0) }, "\(cpu)")
      #expect(micros > 0, "\(cpu)")
    }
    // The same run with no serving-time row kept: the same examples, every row computed.
    let computed = try #require(
      line("end to end with every batch row computed again (train.frozen_rows = 0: "),
      "\(output)")
    #expect(number(after: "impressions/s): ", in: computed) == served, "\(computed)")
    // Every row of its batches was computed, none kept (the run above keeps them).
    #expect(computed.contains("; batch rows kept 0, computed "), "\(computed)")
    #expect((number(after: "kept 0, computed ", in: computed) ?? 0) > 0, "\(computed)")
    #expect(line("freshness run: ")?.contains("checkpoint.interval = 500ms") == true, "\(output)")
    for origin in ["freshness from production", "freshness from arrival"] {
      let figures = try #require(line(origin), "\(output)")
      #expect(figures.contains("p50 ") && figures.contains("p99 "))
      let counted = number(after: "over ", in: figures)
      #expect(counted != nil && counted! > 0 && counted! <= lines.count, "\(figures)")
    }
    // Freshness through the label path: fake_negative trains impressions at once; wait
    // (label.wait = 10s of event time stamped with the wall clock) none within a 1.5 s run.
    let fake = try #require(line("label.mode = fake_negative: "), "\(output)")
    let trained = try #require(number(after: "; ", in: fake), "\(fake)")
    let produced = try #require(number(after: "; \(trained) of ", in: fake), "\(fake)")
    #expect(trained > 0 && trained <= produced, "\(fake)")
    #expect(!fake.contains("p50 > run"), "\(fake)")
    let wait = try #require(line("label.mode = wait: "), "\(output)")
    #expect(wait.contains("p50 > run") && wait.contains("; 0 of "), "\(wait)")
    // One set of label-mode runs, at the rate asked; fake_negative's wait before its training
    // is shown with the checkpoints' steps (wait trains nothing, so it has no such line).
    let header = output.split(separator: "\n").filter { $0.hasPrefix("label-mode freshness") }
    #expect(header.count == 1 && header[0].hasPrefix("label-mode freshness at 700 "), "\(output)")
    let printed = output.split(separator: "\n").map(String.init)
    let fakeIndex = try #require(
      printed.firstIndex { $0.hasPrefix("label.mode = fake_negative: ") })
    let trainedPart = printed[fakeIndex + 1]
    #expect(
      trainedPart.hasPrefix("  of which production -> trained: p50 ")
        && trainedPart.contains("checkpoint steps"), "\(trainedPart)")
    #expect(printed[fakeIndex + 2].hasPrefix("  freshness parts (record-weighted): "))
    // fake_negative again, its open batches closed at each checkpoint: it trains impressions
    // too, and its checkpoints show what closing them took.
    let closing = try #require(
      line("label.mode = fake_negative, train.close_at_checkpoint = true: "), "\(output)")
    #expect(!closing.contains("p50 > run") && !closing.contains("; 0 of "), "\(closing)")
    let closingIndex = try #require(printed.firstIndex { $0.hasPrefix(closing) })
    #expect(printed[closingIndex + 1].contains("checkpoint steps (median/max s over "))
    #expect(printed[closingIndex + 1].contains(": close "), "\(printed[closingIndex + 1])")
    // The wait's parts and the checkpoints' steps are measured.
    let parts = try #require(line("freshness parts (record-weighted): "), "\(output)")
    for part in FreshnessLog.Part.allCases {
      #expect(parts.contains("\(part.label) p50 "), "\(parts)")
    }
    let steps = try #require(line("checkpoint steps (median/max s over "), "\(output)")
    #expect(number(after: "over ", in: steps).map { $0 > 0 } == true, "\(steps)")
    #expect(steps.contains(", write ") && steps.contains(", commit "), "\(steps)")
  }

  @Test func theComputedRowsLineGivesTheRateItsShareAndTheRingsReach() throws {
    var configuration = Configuration()
    try configuration.apply(override: "train.frozen_rows=65536")
    try configuration.apply(override: "label.wait=30m")
    let run = ServeBenchmark.Throughput(
      events: 1_100, examples: 1_000, pipelineSeconds: 0.4, finalCheckpointSeconds: 0.1,
      snapshots: 1, threadSeconds: ["iak-training": 0.0125, "iak-consumer": 0.3],
      threadWallSeconds: 0.4, rowsKept: 0, rowsComputed: 990)
    let line = ServeBenchmark.computedRowsLine(
      run, configuration: configuration, learnerRate: 8_000)
    // 1,000 examples in 0.5 s: 2,000 a second, a quarter of 8,000; 12.5 ms of the training
    // thread over 1,000 examples; 65,536 rows over 1,800 s of wait: 36.4 impressions a second.
    #expect(
      line
        == "end to end with every batch row computed again (train.frozen_rows = 0: labels "
        + "that wait longer than the ring of 65536 rows holds impressions, as label.wait = 30m "
        + "does past 36.4 impressions/s): 1000 examples in 0.500 s = 2000 examples/s, 25.0% "
        + "of the learner only; training thread 12.5 us per example; batch rows kept 0, "
        + "computed 990", "\(line)")
  }

  @Test func theCeilingLineIsWhatTheCoresAllowAtTheRunsCPUPerExample() throws {
    let run = ServeBenchmark.Throughput(
      events: 1_100, examples: 1_000, pipelineSeconds: 0.4, finalCheckpointSeconds: 0.1,
      snapshots: 1,
      threadSeconds: ["iak-training": 0.003, "iak-consumer": 0.0015, "rdk:main": 0.0005],
      threadWallSeconds: 0.4)
    let line = ServeBenchmark.ceilingLine(run, cores: 2, learnerRate: 1_000_000)
    // 5 ms of CPU over 1,000 examples: 5 us each; two cores then run at most 400,000 a
    // second, 40% of 1,000,000. 80% of the learner is 800,000 a second: 2.5 us of wall time,
    // 2.5 us of CPU per example on two cores, 1.5 us beside the learner's own 1 us.
    #expect(
      line
        == "end to end ceiling at this CPU per example: 5.0 us of CPU per example on 2 cores, "
        + "all busy all the time, is at most 400000 examples/s, 40.0% of the learner only; 80% "
        + "of the learner only allows 2.5 us of CPU per example on 2 cores, 1.5 us of them "
        + "for all but the learning itself (the learner alone: 1.0 us per example)", "\(line)")
  }

  @Test func labelRatesAreNumbersOrTheFreshnessRunsRate() throws {
    #expect(try CommandSpec.labelRates("3000, freshness,12.5") == [3000, nil, 12.5])
    for bad in ["0", "-5", "fast", "inf", "nan"] {
      #expect(throws: UsageError.self, "\(bad)") { try CommandSpec.labelRates(bad) }
    }
  }

  @Test func inputKeepsEachRegionOnOnePartitionAndEachPartitionUnderItsCap() throws {
    let folder = try Self.folder()
    defer { try? FileManager.default.removeItem(atPath: folder) }
    let lines = ServeFixture.events(impressions: 600)
    let path = folder + "/events.jsonl"
    try (lines.joined(separator: "\n") + "\n").write(
      toFile: path, atomically: true, encoding: .utf8)
    let cap = 20_000
    let events = try BenchEvents.load(
      URL(fileURLWithPath: path), for: .serve, regionField: "region", partitions: 2,
      partitionBytes: cap, limit: .max)
    #expect(events.inputLines == lines.count)
    #expect(events.regions == 6)  // r0...r4 and "" for the two bad records
    #expect(events.count < lines.count)
    var partitionOfKey: [String: Int32] = [:]
    var bytes: [Int32: Int] = [:]
    for event in events.events {
      let key = event.key.map { String(decoding: $0, as: UTF8.self) } ?? ""
      #expect(partitionOfKey[key, default: event.partition] == event.partition)
      partitionOfKey[key] = event.partition
      bytes[event.partition, default: 0] += event.value.count
    }
    #expect(bytes.values.allSatisfy { $0 <= cap })
    #expect(bytes.values.reduce(0, +) == events.partitionBytes.reduce(0, +))
    // Each partition holds a prefix of its own part of the input, in input order.
    for partition in Int32(0)..<2 {
      let kept = events.events.filter { $0.partition == partition }.map(\.value)
      let all = lines.map { Array($0.utf8) }.filter {
        let region = JSONLineField.value(named: "region", in: $0) ?? ""
        return partitionOfKey[region] == partition
      }
      #expect(!kept.isEmpty && kept.count < all.count)
      #expect(Array(all.prefix(kept.count)) == kept)
    }
  }
}
