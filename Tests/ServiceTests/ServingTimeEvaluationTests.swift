import Foundation
import Testing

@testable import Service

/// Serving-time evaluation: figures are what a serving system would have seen, each impression
/// scored when it arrived with the kernel as it then stood.
@Suite(.serialized) struct ServingTimeEvaluationTests {
  /// A deterministic generator for the streams below.
  struct Generator {
    var state: UInt64
    mutating func next() -> UInt64 {
      state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
      return state >> 33
    }
  }

  /// Labelled impressions with no signal at all (clicks at random, 40%), for the backbone.
  static func pretrainLines(count: Int) -> [String] {
    var random = Generator(state: 7)
    return (0..<count).map { index in
      let user = random.next() % 400
      let item = random.next() % 40
      let click = random.next() % 5 < 2 ? 1 : 0
      return "{\"type\":\"impression\",\"id\":\"p\(index)\",\"ts\":\(880_000_000_000 + index),"
        + "\"region\":\"east\",\"user\":\"old\(user)\",\"item\":\"m\(item)\",\"click\":\(click)}"
    }
  }

  /// A stream whose only signal is sessions: each new user sees 20 items 6 s apart, and clicks
  /// all of them (40% of users) or none; each click comes 5 s after its impression. Sessions
  /// start every 150 s, so with `label.wait = 30m` about a dozen sessions wait at once. Items
  /// come from a generator of their own: drawn from the one that decides the clicks, they carry
  /// a little of that decision (successive outputs of this generator are correlated), a real
  /// signal a kernel does learn (+3.8 AUC points at serving time with 480 users).
  static func sessionLines(users: Int) -> [String] {
    var random = Generator(state: 11)
    var items = Generator(state: 13)
    var lines: [String] = []
    let start: Int64 = 890_000_000_000
    for user in 0..<users {
      let clicks = random.next() % 5 < 2
      for position in 0..<20 {
        let time = start + Int64(user) * 150_000 + Int64(position) * 6_000
        let id = "s\(user)-\(position)"
        lines.append(
          "{\"type\":\"impression\",\"id\":\"\(id)\",\"ts\":\(time),\"region\":\"east\","
            + "\"user\":\"new\(user)\",\"item\":\"m\(items.next() % 40)\"}")
        if clicks {
          lines.append("{\"type\":\"click\",\"id\":\"\(id)\",\"ts\":\(time + 5_000)}")
        }
      }
    }
    // Events in time order (a click may come after the next impression).
    return lines.sorted { timeOf($0) < timeOf($1) }
  }

  static func timeOf(_ line: String) -> Int64 {
    let after = line.components(separatedBy: "\"ts\":")[1]
    return Int64(after.prefix { $0.isNumber })!
  }

  @Test func sessionLabelsGiveNoKernelGainAtServingTimeWhileTheTrainingTimeFigureLeaks() throws {
    let folder = try TemporaryFolder.make("iak-serving-time")
    defer { try? FileManager.default.removeItem(atPath: folder) }
    let model = [
      "backbone.fields=user,item", "backbone.buckets=4096", "backbone.hidden=16,8",
      "backbone.until=", "backbone.epochs=2",
    ]
    _ = try TestBackbone.pretrain(
      lines: Self.pretrainLines(count: 4000), settings: model, in: folder)
    let events = folder + "/sessions.jsonl"
    try (Self.sessionLines(users: 480).joined(separator: "\n") + "\n").write(
      toFile: events, atomically: true, encoding: .utf8)
    let settings =
      model + [
        "iak.insert_at=embedding", "train.batch_max=4", "train.steps_per_batch=16",
        "train.learning_rate=0.001", "label.wait=30m", "domain.window=every 30d",
        "domain.min_examples=20", "checkpoint.interval=100000 events",
      ]
    let out = CommandLineToolTests.Captured()
    let status = CommandLineTool.main(
      arguments: [
        "iak-stream", "replay", "--input", events, "--backbone", folder + "/bb",
        "--checkpoint-dir", folder + "/store", "--summary", folder + "/summary.json", "--flush",
        "--serving-scores", folder + "/scores.tsv",
      ] + settings.flatMap { ["--set", $0] },
      output: { out.write($0) }, errorOutput: { out.writeError($0) })
    try #require(status == 0, "replay failed: \(out.errors)")
    let summary = try #require(
      try JSONSerialization.jsonObject(
        with: Data(contentsOf: URL(fileURLWithPath: folder + "/summary.json")))
        as? [String: Any])
    let overall = try #require(summary["overall"] as? [String: Any])
    func figure(_ key: String) throws -> Double {
      try #require(overall[key + "_mean_by_examples"] as? Double, "no \(key) in \(overall)")
    }
    let trainingGain = try figure("training_auc") - figure("training_backbone_auc")
    let servingGain = try figure("auc") - figure("backbone_auc")
    let servedGain = try figure("served_auc") - figure("backbone_auc")
    print(
      "session stream: training-time AUC gain \(trainingGain), serving-time \(servingGain), "
        + "served \(servedGain)")
    // The training-time figure scores each impression after its session's earlier labels were
    // learned: it shows a large gain that no live kernel could have.
    #expect(trainingGain > 0.1)
    // At serving time every impression of a session is scored before any of its labels exist:
    // there is nothing to gain, and what is served is not worse than the backbone. (Labels come
    // in clusters of 20, so an AUC here is worth about 480 independent examples: hence 0.03.)
    #expect(abs(servingGain) < 0.03)
    #expect(servedGain > -0.02)
    #expect(overall["examples"] as? Int == 480 * 20)
    // The frozen backbone scores the same at arrival as when the batch closes.
    #expect(abs(try figure("training_backbone_auc") - figure("backbone_auc")) < 1e-6)

    // --serving-scores: one line per example, whose logits give the summary's log losses.
    let lines = try String(contentsOfFile: folder + "/scores.tsv", encoding: .utf8)
      .split(separator: "\n")
    #expect(lines.first == "id\tdomain\tlabel\tbackbone_logit\tkernel_logit\tserved_logit")
    #expect(lines.count == 1 + 480 * 20)
    var sums = [0.0, 0.0, 0.0]
    for line in lines.dropFirst() {
      let fields = line.split(separator: "\t")
      let label = Double(fields[2])!
      for column in 0..<3 {
        let p = 1 / (1 + exp(-Double(fields[3 + column])!))
        sums[column] -= label * log(p) + (1 - label) * log(1 - p)
      }
    }
    let count = Double(lines.count - 1)
    #expect(abs(sums[0] / count - (try figure("backbone_logloss"))) < 1e-4)
    #expect(abs(sums[1] / count - (try figure("logloss"))) < 1e-4)
    #expect(abs(sums[2] / count - (try figure("served_logloss"))) < 1e-4)
  }
}
