import Datasets
import Foundation
import Stream
import Testing

@testable import Service

/// `dataset movielens --split-clicks --click-delay` on the small made-up MovieLens folder of
/// `DatasetEffectsCommandTests` (210 ratings, 110 of them clicks).
@Suite struct DatasetClickDelayCommandTests {
  @Test func longTailDelaysAreDrawnAsAskedAndKeepTheFileInTimeOrder() throws {
    let source = try DatasetEffectsCommandTests.makeSource()
    defer { try? FileManager.default.removeItem(atPath: source) }
    let (status, captured) = CommandLineToolTests().run([
      "dataset", "movielens", "--source", source, "--out", source + "/events.jsonl",
      "--split-clicks", "--click-delay", "lognormal:10m:2", "--click-delay-seed", "3",
    ])
    #expect(status == 0, "\(captured.errors)")
    let text = try String(contentsOfFile: source + "/events.jsonl", encoding: .utf8)
    let delay = ClickDelay.logNormal(medianMilliseconds: 600_000, sigma: 2, seed: 3)
    let converter = try MovieLensConverter(directory: URL(fileURLWithPath: source))
    let expected = converter.events(
      options: MovieLensConverter.Options(splitClicks: true, clickDelay: delay)
    )
    #expect(text == expected.map { $0.jsonLine() + "\n" }.joined())
    // The file holds exactly those events: in time order, each click its own drawn delay after
    // its impression.
    var shown: [String: Int64] = [:]
    var previous: Int64 = 0
    var delays: [Int64] = []
    for event in expected {
      #expect(event.timeMilliseconds >= previous)
      previous = event.timeMilliseconds
      if event.kind == .impression {
        shown[event.id] = event.timeMilliseconds
      } else {
        let row = Int(event.id.dropFirst(3))!
        let impression = try #require(shown[event.id])
        #expect(event.timeMilliseconds - impression == delay.milliseconds(row: row))
        delays.append(event.timeMilliseconds - impression)
      }
    }
    #expect(delays.count == 110)
    #expect(Set(delays).count > 100)
    #expect(
      captured.output.contains(
        "wrote 320 events (210 impressions, 110 click events, 0 synthetic negatives among the "
          + "impressions)"), "\(captured.output)")
    // Without --split-clicks the clicks are the impressions' labels, not events.
    let (joined, labelled) = CommandLineToolTests().run([
      "dataset", "movielens", "--source", source, "--out", source + "/labelled.jsonl",
    ])
    #expect(joined == 0, "\(labelled.errors)")
    #expect(
      labelled.output.contains(
        "wrote 210 events (210 impressions, 110 of them labelled clicked, 0 synthetic "
          + "negatives among the impressions)"), "\(labelled.output)")
  }

  @Test func badClickDelaysExitWithTwoAndSayWhatToDo() throws {
    let source = try DatasetEffectsCommandTests.makeSource()
    defer { try? FileManager.default.removeItem(atPath: source) }
    let base = ["dataset", "movielens", "--source", source, "--out", source + "/events.jsonl"]
    let cases: [([String], String)] = [
      (["--click-delay", "10m"], "--click-delay needs --split-clicks"),
      (["--split-clicks", "--click-delay", "soon"], "option --click-delay expects a duration"),
      (
        ["--split-clicks", "--click-delay", "lognormal:10m"],
        "option --click-delay expects a duration"
      ),
      (
        ["--split-clicks", "--click-delay", "lognormal:10m:lots"],
        "option --click-delay expects lognormal:MEDIAN:SIGMA"
      ),
      (
        ["--split-clicks", "--click-delay", "lognormal:0s:2"],
        "a log-normal click delay needs a median of at least 1 ms"
      ),
      (
        ["--split-clicks", "--click-delay", "lognormal:10m:12"],
        "a log-normal click delay needs a sigma from 0 to 10"
      ),
      (
        ["--split-clicks", "--click-delay-seed", "2"],
        "--click-delay-seed needs --click-delay lognormal:MEDIAN:SIGMA"
      ),
      (
        ["--split-clicks", "--click-delay", "5s", "--click-delay-seed", "2"],
        "--click-delay-seed only applies to --click-delay lognormal:MEDIAN:SIGMA"
      ),
    ]
    for (words, message) in cases {
      let (status, captured) = CommandLineToolTests().run(base + words)
      #expect(status == 2, "\(words): \(captured.errors)")
      #expect(captured.errors.contains(message), "\(words): \(captured.errors)")
      #expect(!FileManager.default.fileExists(atPath: source + "/events.jsonl"))
    }
    // A fixed delay other than the default moves every click by it.
    let (status, captured) = CommandLineToolTests().run(
      base + ["--split-clicks", "--click-delay", "2h"])
    #expect(status == 0, "\(captured.errors)")
    let converter = try MovieLensConverter(directory: URL(fileURLWithPath: source))
    let expected = converter.events(
      options: MovieLensConverter.Options(
        splitClicks: true, clickDelay: .fixed(milliseconds: 7_200_000)))
    #expect(
      try String(contentsOfFile: source + "/events.jsonl", encoding: .utf8)
        == expected.map { $0.jsonLine() + "\n" }.joined())
    #expect(expected.filter { $0.kind == .click }.count == 110)
  }
}
