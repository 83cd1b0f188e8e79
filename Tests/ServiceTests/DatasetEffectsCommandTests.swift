import Datasets
import Foundation
import Stream
import Testing

@testable import Service

/// `dataset movielens --inject-effects` on a small made-up MovieLens folder.
@Suite struct DatasetEffectsCommandTests {
  /// 20 users (10 with zip codes of region 1, 10 of region 9) who each rate 10 items (5 Comedy,
  /// 5 Drama) in February 1998, alternately 2 and 5 stars: four cells of 50 impressions at a
  /// click rate of 1/2. User 1 also rated every item in December 1997, before the cells start.
  static func makeSource() throws -> String {
    let folder = try TemporaryFolder.make("iak-effects-source")
    var users = "user_id:token\tage:token\tgender:token\toccupation:token\tzip_code:token\n"
    for user in 1...20 {
      users += "\(user)\t30\tF\twriter\t\(user <= 10 ? "10001" : "90210")\n"
    }
    var items = "item_id:token\tmovie_title:token_seq\trelease_year:token\tclass:token_seq\n"
    for item in 1...10 {
      items += "\(item)\tFilm \(item)\t1995\t\(item <= 5 ? "Comedy" : "Drama")\n"
    }
    var ratings = "user_id:token\titem_id:token\trating:float\ttimestamp:float\n"
    for item in 1...10 { ratings += "1\t\(item)\t5\t\(881_000_000 + item)\n" }
    for user in 1...20 {
      for item in 1...10 {
        let seconds = 886_300_000 + user * 100 + item
        ratings += "\(user)\t\(item)\t\((user + item) % 2 == 0 ? 5 : 2)\t\(seconds)\n"
      }
    }
    for (name, text) in [
      ("ml-100k.user", users), ("ml-100k.item", items), ("ml-100k.inter", ratings),
    ] {
      try Data(text.utf8).write(to: URL(fileURLWithPath: folder + "/" + name))
    }
    return folder
  }

  @Test func writesTheEventsAndTheTruth() throws {
    let source = try Self.makeSource()
    defer { try? FileManager.default.removeItem(atPath: source) }
    let (status, captured) = CommandLineToolTests().run([
      "dataset", "movielens", "--source", source, "--out", source + "/events.jsonl",
      "--split-clicks", "--inject-effects", "2", "--effect-size", "-1", "--effect-seed", "4",
      "--effect-min-impressions", "20",
    ])
    #expect(status == 0, "\(captured.errors)")
    #expect(
      captured.output.contains(
        "moved the click rate by -1.0 logits in 2 of 4 eligible cells: "
          + "100 impressions"), "\(captured.output)")
    #expect(captured.output.contains("1998-02 region "))
    #expect(captured.output.contains("click rate 0.500 -> "))

    let converter = try MovieLensConverter(directory: URL(fileURLWithPath: source))
    let effects = try converter.effects(
      MovieLensEffectPlan(cellCount: 2, logitShift: -1, seed: 4, minimumImpressions: 20))
    let expected = converter.events(
      options: MovieLensConverter.Options(splitClicks: true), effects: effects
    ).map { $0.jsonLine() + "\n" }.joined()
    #expect(try String(contentsOfFile: source + "/events.jsonl", encoding: .utf8) == expected)
    #expect(
      try String(contentsOfFile: source + "/events.effects.json", encoding: .utf8)
        == effects.jsonText())
    #expect(effects.cells.allSatisfy { $0.impressions == 50 && $0.baseClicks == 25 })
    #expect(effects.changedLabels > 0)

    let (named, _) = CommandLineToolTests().run([
      "dataset", "movielens", "--source", source, "--out", source + "/other.jsonl",
      "--inject-effects", "4", "--effect-size", "0.5", "--effect-min-impressions", "20",
      "--effects-out", source + "/truth.json",
    ])
    #expect(named == 0)
    let truth =
      try JSONSerialization.jsonObject(
        with: Data(contentsOf: URL(fileURLWithPath: source + "/truth.json"))) as? [String: Any]
    #expect((truth?["cells"] as? [Any])?.count == 4)
    #expect(!FileManager.default.fileExists(atPath: source + "/other.effects.json"))
  }

  @Test func badArgumentsExitWithTwoAndSayWhatToDo() throws {
    let source = try Self.makeSource()
    defer { try? FileManager.default.removeItem(atPath: source) }
    let base = ["dataset", "movielens", "--source", source, "--out", source + "/events.jsonl"]
    let cases: [([String], String)] = [
      (["--effect-size", "1"], "--effect-size needs --inject-effects N"),
      (["--effects-out", "x.json"], "--effects-out needs --inject-effects N"),
      (["--inject-effects", "2"], "--inject-effects needs --effect-size DELTA"),
      (
        ["--inject-effects", "2", "--effect-size", "lots"],
        "option --effect-size expects a number of logits such as 1.0 or -1.0, got 'lots'"
      ),
      (
        ["--inject-effects", "2", "--effect-size", "7"],
        "the effect size must be a number of logits from -5.0 to 5.0"
      ),
      (["--inject-effects", "-2", "--effect-size", "1"], "option --inject-effects expects"),
      (
        ["--inject-effects", "2", "--effect-size", "1", "--effect-since", "yesterday"],
        "--effect-since expects a time: RFC 3339 (1998-01-01T00:00:00Z), a date meaning midnight UTC"
      ),
      (
        ["--inject-effects", "5", "--effect-size", "1", "--effect-min-impressions", "20"],
        "asked for 5 effect cells but only 4 (region, month, genre) cells have at least 20"
      ),
      (
        ["--inject-effects", "1", "--effect-size", "1"],
        "asked for 1 effect cells but only 0"
      ),
    ]
    for (words, message) in cases {
      let (status, captured) = CommandLineToolTests().run(base + words)
      #expect(status == 2, "\(words): \(captured.errors)")
      #expect(captured.errors.contains(message), "\(words): \(captured.errors)")
      #expect(!FileManager.default.fileExists(atPath: source + "/events.jsonl"))
    }
  }
}
