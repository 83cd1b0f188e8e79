import Datasets
import Foundation
import TestSupport
import Testing

@testable import Stream

/// Speed figures for `make bench`; enabled with IAK_BENCH=1 and printed, never asserted. Run one
/// at a time so they do not share the cores.
@Suite(
  .serialized,
  .enabled(if: ProcessInfo.processInfo.environment["IAK_BENCH"] == "1", "set IAK_BENCH=1"),
  .enabled(if: MovieLensFixture.isAvailable, "run scripts/fetch-data first"))
struct EventDecodingBenchmarkTests {
  @Test func convertsMovieLens() throws {
    let output = FileManager.default.temporaryDirectory.appendingPathComponent(
      "iak-bench-\(UInt64.random(in: 0...UInt64.max)).jsonl")
    defer { try? FileManager.default.removeItem(at: output) }
    let clock = ContinuousClock()
    var summary = MovieLensConverter.Summary()
    let elapsed = try clock.measure {
      summary = try MovieLensConverter.convert(
        source: MovieLensFixture.directory, output: output,
        options: .init(splitClicks: true, negativesPerRating: 9, seed: 1))
    }
    print(
      "bench convert movielens split_clicks=true negatives=9 events=\(summary.events) \(elapsed)")
    #expect(summary.events == 1_055_375)
  }

  @Test func decodesMovieLensEvents() throws {
    let converter = try MovieLensConverter(directory: MovieLensFixture.directory)
    for options in [
      MovieLensConverter.Options(),
      MovieLensConverter.Options(splitClicks: true, negativesPerRating: 9, seed: 1),
    ] {
      let lines = converter.events(options: options).map { Array($0.jsonLine().utf8) }
      let figures = EventDecodingBenchmark.measure(lines: lines)
      print(
        "bench decode movielens split_clicks=\(options.splitClicks) "
          + "negatives=\(options.negativesPerRating) \(figures)")
      #expect(figures.rejected == 0)
      let router = try DomainRouter(
        configuration: .init(
          window: DomainWindow(parsing: "month"),
          regionMap: DomainRegionMap(
            parsing: "0:east,1:east,2:east,3:south,4:central,5:central,"
              + "6:central,7:south,8:west,9:west,ca:canada")))
      let pipeline = EventDecodingBenchmark.measureDecodeJoinRoute(
        lines: lines,
        joiner: .init(waitMilliseconds: 10_000, maxOutOfOrdernessMilliseconds: 1_000),
        router: router)
      print(
        "bench decode+join+route movielens split_clicks=\(options.splitClicks) "
          + "negatives=\(options.negativesPerRating) \(pipeline)")
    }
  }
}
