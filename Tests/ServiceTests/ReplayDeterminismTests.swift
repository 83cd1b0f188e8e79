import Base
import Checkpoint
import Foundation
import Learner
import Testing

@testable import Service

/// Exactly-once state through `replay`: the same input from the same snapshot gives
/// bit-identical state; a replay stopped anywhere and resumed from its snapshot ends where one
/// uninterrupted run does; every impression is trained exactly once.
@Suite struct ReplayDeterminismTests {
  final class Fixture {
    let folder: String
    let events: String
    var settings: [String]

    /// A fixture whose replays also apply `extra` settings (pretraining does not).
    init(_ extra: [String] = []) throws {
      folder = try TemporaryFolder.make("iak-replay")
      events = folder + "/events.jsonl"
      // Split clicks: a click event follows some impressions, so the joiner holds state too.
      var lines: [String] = []
      for line in PretrainAndScoreTests.syntheticEvents(count: 2400).split(separator: "\n") {
        let clicked = line.hasSuffix("\"click\":1}")
        let impression = line.replacingOccurrences(of: ",\"click\":1}", with: "}")
          .replacingOccurrences(of: ",\"click\":0}", with: "}")
        lines.append(impression)
        if clicked, let id = impression.split(separator: "\"")[safe: 7],
          let ts = impression.split(separator: ":")[safe: 3]?.split(separator: ",").first
        {
          lines.append("{\"type\":\"click\",\"id\":\"\(id)\",\"ts\":\(Int64(ts)! + 2000)}")
        }
      }
      try (lines.joined(separator: "\n") + "\n").write(
        toFile: events, atomically: true, encoding: .utf8)
      settings = [
        "--set", "backbone.fields=user,item", "--set", "backbone.buckets=512",
        "--set", "backbone.hidden=16,8", "--set", "backbone.until=",
        "--set", "domain.window=every 1d", "--set", "train.batch_max=8",
        "--set", "checkpoint.interval=700 events", "--set", "label.wait=1m",
      ]
      let out = CommandLineToolTests.Captured()
      let status = CommandLineTool.main(
        arguments: ["iak-stream", "pretrain", "--input", events, "--out", folder + "/bb"]
          + settings, output: { out.write($0) }, errorOutput: { out.writeError($0) })
      #expect(status == 0, "\(out.errors)")
      settings += extra.flatMap { ["--set", $0] }
    }

    deinit { try? FileManager.default.removeItem(atPath: folder) }

    var lineCount: Int {
      (try? String(contentsOfFile: events, encoding: .utf8))?.split(separator: "\n").count ?? 0
    }

    func replay(_ extra: [String], store: String) -> String {
      let out = CommandLineToolTests.Captured()
      let status = CommandLineTool.main(
        arguments: [
          "iak-stream", "replay", "--input", events, "--backbone", folder + "/bb",
          "--checkpoint-dir", folder + "/" + store,
        ] + extra + settings, output: { out.write($0) }, errorOutput: { out.writeError($0) })
      #expect(status == 0, "replay failed: \(out.errors)")
      return out.output
    }

    func latestPayload(_ store: String) throws -> [UInt8] {
      let path = folder + "/" + store
      let latest = try String(contentsOfFile: path + "/LATEST", encoding: .utf8)
        .trimmingCharacters(in: .whitespacesAndNewlines)
      return Array(
        try Data(contentsOf: URL(fileURLWithPath: "\(path)/\(latest)/kernels.safetensors")))
    }
  }

  @Test func theSameReplayTwiceGivesIdenticalState() throws {
    let fixture = try Fixture()
    _ = fixture.replay(["--flush"], store: "one")
    _ = fixture.replay(["--flush"], store: "two")
    let first = try fixture.latestPayload("one")
    #expect(!first.isEmpty)
    #expect(first == (try fixture.latestPayload("two")))
  }

  @Test(arguments: [1, 777, 1500, 2900])
  func aReplayStoppedAnywhereAndResumedEndsLikeOneUninterruptedRun(stop: Int) throws {
    let fixture = try Fixture()
    _ = fixture.replay(["--flush"], store: "whole")
    _ = fixture.replay(["--until-offset", "\(stop)"], store: "parts")
    _ = fixture.replay(["--from-snapshot", fixture.folder + "/parts", "--flush"], store: "parts")
    #expect((try fixture.latestPayload("whole")) == (try fixture.latestPayload("parts")))
  }

  /// Two and three training threads, with a resume between them, end in one thread's state,
  /// also with delayed feedback (evaluation-only rows and click counts in the batches).
  @Test(arguments: ["label.mode=wait", "label.mode=es_dfm"])
  func moreTrainingThreadsGiveTheOneThreadStateAlsoAcrossAResume(mode: String) throws {
    let fixture = try Fixture([mode, "label.window=20s"])
    _ = fixture.replay(["--flush", "--set", "train.threads=1"], store: "one")
    _ = fixture.replay(["--until-offset", "1500", "--set", "train.threads=2"], store: "many")
    _ = fixture.replay(
      ["--from-snapshot", fixture.folder + "/many", "--flush", "--set", "train.threads=3"],
      store: "many")
    let single = try fixture.latestPayload("one")
    #expect(!single.isEmpty)
    #expect(single == (try fixture.latestPayload("many")))
  }

  /// The delayed-feedback modes keep provisional impressions in the joiner, serving-time records
  /// in the open batches and click counts per domain: all of it resumes exactly.
  @Test(arguments: ["label.mode=fake_negative", "label.mode=es_dfm"])
  func aDelayedFeedbackReplayResumedEndsLikeOneUninterruptedRun(mode: String) throws {
    let fixture = try Fixture([mode, "label.window=20s"])
    _ = fixture.replay(["--flush"], store: "whole")
    _ = fixture.replay(["--until-offset", "777"], store: "parts")
    _ = fixture.replay(
      ["--from-snapshot", fixture.folder + "/parts", "--until-offset", "1500"], store: "parts")
    _ = fixture.replay(["--from-snapshot", fixture.folder + "/parts", "--flush"], store: "parts")
    #expect((try fixture.latestPayload("whole")) == (try fixture.latestPayload("parts")))
  }

  /// With fake_negative every impression trains at once as a negative and each click trains it
  /// again; with es_dfm and clicks 2 s after their impressions (inside a 20 s window) each
  /// impression trains once, with its final label.
  @Test(arguments: [("fake_negative", true), ("es_dfm", false)])
  func delayedFeedbackTrainsProvisionalCopiesAndCountsEachClickOnce(
    mode: String, correctsEveryClick: Bool
  ) throws {
    let fixture = try Fixture(["label.mode=\(mode)", "label.window=20s"])
    _ = fixture.replay(["--flush", "--summary", fixture.folder + "/s.json"], store: "counted")
    let summary = try JSONValue.parse(
      Array(try Data(contentsOf: URL(fileURLWithPath: fixture.folder + "/s.json"))))
    let clicks =
      try String(contentsOfFile: fixture.events, encoding: .utf8)
      .components(separatedBy: "\"type\":\"click\"").count - 1
    #expect(clicks > 100)
    #expect(summary["overall"]?["examples"]?.intValue == 2400 + (correctsEveryClick ? clicks : 0))
    #expect(summary["overall"]?["positives"]?.intValue == clicks)
  }

  @Test func everyImpressionIsTrainedExactlyOnce() throws {
    let fixture = try Fixture()
    _ = fixture.replay(["--until-offset", "1000"], store: "counted")
    _ = fixture.replay(
      [
        "--from-snapshot", fixture.folder + "/counted", "--flush", "--summary",
        fixture.folder + "/s.json",
      ],
      store: "counted")
    let summary = try #require(
      try JSONSerialization.jsonObject(
        with: Data(contentsOf: URL(fileURLWithPath: fixture.folder + "/s.json")))
        as? [String: Any])
    let overall = try #require(summary["overall"] as? [String: Any])
    #expect(overall["records"] as? Int == fixture.lineCount)
    #expect(overall["examples"] as? Int == 2400)
    let domains = try #require(summary["domains"] as? [String: [String: Any]])
    #expect(domains.values.reduce(0) { $0 + ($1["examples"] as? Int ?? 0) } == 2400)
    let clicks =
      try String(contentsOfFile: fixture.events, encoding: .utf8)
      .components(separatedBy: "\"type\":\"click\"").count - 1
    #expect(overall["positives"] as? Int == clicks)
  }
}

extension Array {
  subscript(safe index: Int) -> Element? { indices.contains(index) ? self[index] : nil }
}
