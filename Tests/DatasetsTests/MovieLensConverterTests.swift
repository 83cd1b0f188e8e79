import Foundation
import Observability
import Stream
import TestSupport
import Testing

@testable import Datasets

@Suite(.enabled(if: MovieLensFixture.isAvailable, "run scripts/fetch-data first"))
struct MovieLensConverterTests {
  static let converter = Result { try MovieLensConverter(directory: MovieLensFixture.directory) }

  /// (user, item, rating, seconds) for every data row of ml-100k.inter, read independently.
  static let ratings: [(user: String, item: String, rating: Int, seconds: Int64)] = {
    (try? MovieLensFixture.rows("ml-100k.inter"))?.map {
      ($0[0], $0[1], Int($0[2])!, Int64($0[3])!)
    } ?? []
  }()

  @Test func convertsEveryRatingInTimeOrder() throws {
    let events = try Self.converter.get().events()
    #expect(Self.ratings.count == 100_000)
    #expect(events.count == 100_000)
    #expect(events.allSatisfy { $0.kind == .impression && !$0.isSynthetic })
    let positives = Self.ratings.filter { $0.rating >= 4 }.count
    #expect(positives == 55_375)
    #expect(events.filter { $0.label == true }.count == positives)
    #expect(events.filter { $0.label == false }.count == 100_000 - positives)
    #expect(
      zip(events, events.dropFirst()).allSatisfy { $0.timeMilliseconds <= $1.timeMilliseconds })
    #expect(Set(events.map(\.id)).count == 100_000)
  }

  @Test func knownRowsMatchTheSourceFiles() throws {
    let events = try Self.converter.get().events()
    let byID = Dictionary(uniqueKeysWithValues: events.map { ($0.id, $0) })
    // Row 1: user 196 (49, M, writer, 55105) rated item 242 (Kolya, 1996, Comedy) 3 stars.
    let first = try #require(byID["ml-1"])
    #expect(first.timeMilliseconds == 881_250_949_000)
    #expect(first.region == "5")
    #expect(first.label == false)
    #expect(
      first.categorical.map { "\($0.name)=\($0.value)" } == [
        "user=196", "item=242", "age=45-49", "gender=M", "occupation=writer", "genre=Comedy",
        "year=1990s",
      ])
    // The earliest rating is row 215: user 259 item 255, 4 stars at 874724710.
    #expect(events.first?.id == "ml-215")
    #expect(events.first?.label == true)
    #expect(events.first?.feature("item") == "255")
    // User 74 has the Canadian postal code T8H1N.
    let canadian = try #require(events.first { $0.feature("user") == "74" })
    #expect(canadian.region == "ca")
    #expect(canadian.feature("occupation") == "scientist")
    // Every event agrees with its source row.
    for event in events {
      let row = Int(event.id.dropFirst(3))!
      let source = Self.ratings[row - 1]
      #expect(event.feature("user") == source.user)
      #expect(event.feature("item") == source.item)
      #expect(event.label == (source.rating >= 4))
      #expect(event.timeMilliseconds == source.seconds * 1_000)
    }
  }

  @Test func tiesKeepSourceOrder() throws {
    let events = try Self.converter.get().events()
    let tied = events.filter { $0.timeMilliseconds == 891_033_606_000 }
    #expect(tied.count == 12)
    let rows = tied.map { Int($0.id.dropFirst(3))! }
    #expect(rows == rows.sorted())
  }

  @Test func splitClicksFollowTheirImpressions() throws {
    let options = MovieLensConverter.Options(splitClicks: true)
    var impressions: [String: Int64] = [:]
    var clicks = 0
    var previous: Int64 = 0
    let summary = try Self.converter.get().forEachEvent(options: options) { event in
      #expect(event.timeMilliseconds >= previous)
      previous = event.timeMilliseconds
      switch event.kind {
      case .impression:
        #expect(event.label == nil)
        impressions[event.id] = event.timeMilliseconds
      case .click:
        clicks += 1
        #expect(impressions[event.id].map { $0 + 5_000 } == event.timeMilliseconds)
      }
    }
    #expect(impressions.count == 100_000)
    #expect(clicks == 55_375)
    #expect(summary.events == 155_375)
    #expect(summary.clicks == 55_375)
  }

  @Test func negativesAreUnseenSyntheticAndSeeded() throws {
    var rated: [String: Set<String>] = [:]
    for rating in Self.ratings { rated[rating.user, default: []].insert(rating.item) }
    let options = MovieLensConverter.Options(negativesPerRating: 2, seed: 7)
    var negatives: [Event] = []
    let summary = try Self.converter.get().forEachEvent(options: options) { event in
      if event.isSynthetic { negatives.append(event) }
    }
    #expect(summary.impressions == 300_000)
    #expect(summary.negatives == 200_000)
    #expect(negatives.count == 200_000)
    let genres = Dictionary(
      uniqueKeysWithValues: try MovieLensFixture.rows("ml-100k.item").map {
        ($0[0], String($0[3].split(separator: " ").first ?? "unknown"))
      })
    for negative in negatives {
      #expect(negative.label == false)
      #expect(!rated[negative.feature("user")!]!.contains(negative.feature("item")!))
      #expect(negative.feature("genre") == genres[negative.feature("item")!])
    }
    #expect(negatives[0].id == "ml-215-n1")
    #expect(negatives[1].id == "ml-215-n2")
    #expect(negatives[0].feature("item") != negatives[1].feature("item"))

    var again: [Event] = []
    try Self.converter.get().forEachEvent(options: options) { event in
      if event.isSynthetic && again.count < 1_000 { again.append(event) }
    }
    #expect(again == Array(negatives.prefix(1_000)))
    var otherSeed = options
    otherSeed.seed = 8
    var different: [Event] = []
    try Self.converter.get().forEachEvent(options: otherSeed) { event in
      if event.isSynthetic && different.count < 1_000 { different.append(event) }
    }
    #expect(different != again)
  }

  @Test func writesJSONLinesTheDecoderReadsBack() throws {
    let folder = FileManager.default.temporaryDirectory
      .appendingPathComponent("iak-movielens-\(UInt64.random(in: 0...UInt64.max))")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: folder) }
    let output = folder.appendingPathComponent("events.jsonl")
    let options = MovieLensConverter.Options(splitClicks: true, negativesPerRating: 1, seed: 3)
    let summary = try MovieLensConverter.convert(
      source: MovieLensFixture.directory, output: output, options: options)
    #expect(summary.events == 255_375)
    let lines = try String(contentsOf: output, encoding: .utf8).split(separator: "\n")
    #expect(lines.count == summary.events)
    let decoder = EventDecoder(metrics: MetricsRegistry())
    let expected = try Self.converter.get().events(options: options)
    for (line, event) in zip(lines.prefix(5_000), expected) {
      #expect(try decoder.decode(Array(line.utf8)) == event)
    }
    #expect(!FileManager.default.fileExists(atPath: output.path + ".partial"))
  }

  @Test func missingSourceSaysWhatToDo() {
    #expect {
      _ = try MovieLensConverter(directory: URL(fileURLWithPath: "/nonexistent/ml-100k"))
    } throws: { error in
      "\(error)".contains("/nonexistent/ml-100k/ml-100k.user")
        && "\(error)".contains("scripts/fetch-data")
    }
  }

  @Test func bucketsFeatures() {
    #expect(MovieLensConverter.ageBucket(7) == "under18")
    #expect(MovieLensConverter.ageBucket(18) == "18-24")
    #expect(MovieLensConverter.ageBucket(56) == "56+")
    #expect(MovieLensConverter.yearBucket("1995") == "1990s")
    #expect(MovieLensConverter.yearBucket("unkonwn") == "unknown")
    #expect(MovieLensConverter.yearBucket("V") == "unknown")
    #expect(MovieLensConverter.region(zipCode: "02139") == "0")
    #expect(MovieLensConverter.region(zipCode: "V3N4P") == "ca")
    #expect(MovieLensConverter.region(zipCode: "") == "other")
  }
}
