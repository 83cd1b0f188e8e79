import Base
import Foundation
import Stream
import TestSupport
import Testing

@testable import Datasets

/// The long-tail click delays of `dataset movielens --click-delay lognormal:...`.
@Suite struct ClickDelayTests {
  static let tenMinutes: Int64 = 600_000

  @Test func fixedDelayIsTheSameForEveryRow() {
    let delay = ClickDelay.fixed(milliseconds: 5_000)
    #expect((1...1_000).allSatisfy { delay.milliseconds(row: $0) == 5_000 })
  }

  @Test func logNormalDelaysHaveTheMedianAndSigmaAsked() {
    let delay = ClickDelay.logNormal(medianMilliseconds: Self.tenMinutes, sigma: 2, seed: 1)
    let delays = (1...20_000).map { delay.milliseconds(row: $0) }
    let sorted = delays.sorted()
    let median = Double(sorted[sorted.count / 2])
    // The sample median of 20,000 log-normal draws is within 5% of the true one (its log has a
    // standard error near sigma * 1.25 / sqrt(n) = 0.018).
    #expect(abs(median / Double(Self.tenMinutes) - 1) < 0.05, "median \(median)")
    let logs = delays.map { Foundation.log(Double($0)) }
    let mean = logs.reduce(0, +) / Double(logs.count)
    let deviation = (logs.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(logs.count))
      .squareRoot()
    #expect(abs(mean - Foundation.log(Double(Self.tenMinutes))) < 0.05)
    #expect(abs(deviation - 2) < 0.05, "sigma \(deviation)")
    // The tail: about 10.7% after 2 hours and 0.65% after a day (normal tails at z = 1.24, 2.48).
    let afterTwoHours = Double(delays.filter { $0 > 7_200_000 }.count) / Double(delays.count)
    let afterADay = Double(delays.filter { $0 > 86_400_000 }.count) / Double(delays.count)
    #expect(abs(afterTwoHours - 0.107) < 0.01, "\(afterTwoHours)")
    #expect(abs(afterADay - 0.0065) < 0.002, "\(afterADay)")
    #expect(delays.allSatisfy { $0 >= 1 })
  }

  @Test func logNormalDelaysAreSeededPerRow() {
    let first = ClickDelay.logNormal(medianMilliseconds: Self.tenMinutes, sigma: 2, seed: 7)
    let again = ClickDelay.logNormal(medianMilliseconds: Self.tenMinutes, sigma: 2, seed: 7)
    let other = ClickDelay.logNormal(medianMilliseconds: Self.tenMinutes, sigma: 2, seed: 8)
    let rows = Array(1...2_000)
    #expect(rows.map { first.milliseconds(row: $0) } == rows.map { again.milliseconds(row: $0) })
    let differing = rows.filter { first.milliseconds(row: $0) != other.milliseconds(row: $0) }
    #expect(differing.count > 1_990)
    // Sigma 0 is the median itself.
    let flat = ClickDelay.logNormal(medianMilliseconds: Self.tenMinutes, sigma: 0, seed: 7)
    #expect(rows.allSatisfy { flat.milliseconds(row: $0) == Self.tenMinutes })
  }

  @Test func validationRejectsBadParameters() {
    #expect(throws: MovieLensError.self) { try ClickDelay.fixed(milliseconds: -1).validate() }
    #expect(throws: MovieLensError.self) {
      try ClickDelay.logNormal(medianMilliseconds: 0, sigma: 1, seed: 1).validate()
    }
    #expect(throws: MovieLensError.self) {
      try ClickDelay.logNormal(medianMilliseconds: 1_000, sigma: .nan, seed: 1).validate()
    }
    #expect(throws: MovieLensError.self) {
      try ClickDelay.logNormal(medianMilliseconds: 1_000, sigma: 11, seed: 1).validate()
    }
    #expect(throws: Never.self) {
      try ClickDelay.logNormal(medianMilliseconds: 1_000, sigma: 2, seed: 1).validate()
    }
  }

  @Test func pendingClicksComeOutByTimeThenByArrival() {
    var random = SplitMix64(seed: 3)
    var queue = PendingClicks()
    var added: [(time: Int64, id: String)] = []
    for index in 0..<500 {
      let time = Int64(random.nextInt(below: 50))
      let id = "c\(index)"
      queue.add(Event(kind: .click, id: id, timeMilliseconds: time, region: "1"))
      added.append((time, id))
    }
    var removed: [String] = []
    while let event = queue.removeEarliest() { removed.append(event.id) }
    // A stable sort by time is the order asked for: time, then the order of adding.
    let expected = added.enumerated().sorted {
      ($0.element.time, $0.offset) < ($1.element.time, $1.offset)
    }
    .map(\.element.id)
    #expect(removed == expected)
    #expect(queue.isEmpty)
  }
}

/// The long-tail delays on the real MovieLens ratings.
@Suite(.enabled(if: MovieLensFixture.isAvailable, "run scripts/fetch-data first"))
struct MovieLensClickDelayTests {
  static let delay = ClickDelay.logNormal(medianMilliseconds: 600_000, sigma: 2, seed: 5)

  @Test func longTailClicksAreEventsAtTheirOwnTimeInOrder() throws {
    // The converter MovieLensConverterTests reads once for the whole target.
    let converter = try MovieLensConverterTests.converter.get()
    let options = MovieLensConverter.Options(splitClicks: true, clickDelay: Self.delay)
    var impressions: [String: Int64] = [:]
    var clicks = 0
    var overtaken = 0
    var outOfOrder = 0
    var wrongDelays = 0
    var previous: Int64 = 0
    var previousClickImpression: Int64 = 0
    let summary = converter.forEachEvent(options: options) { event in
      if event.timeMilliseconds < previous { outOfOrder += 1 }
      previous = event.timeMilliseconds
      switch event.kind {
      case .impression:
        impressions[event.id] = event.timeMilliseconds
      case .click:
        clicks += 1
        let row = Int(event.id.dropFirst(3)) ?? 0
        let impression = impressions[event.id] ?? .min
        if impression + Self.delay.milliseconds(row: row) != event.timeMilliseconds {
          wrongDelays += 1
        }
        if impression < previousClickImpression { overtaken += 1 }
        previousClickImpression = impression
      }
    }
    #expect(outOfOrder == 0)
    #expect(wrongDelays == 0)
    #expect(clicks == 55_375)
    #expect(summary.events == 155_375)
    // Drawn delays let clicks overtake one another: order is by the clicks' own time.
    #expect(overtaken > 1_000)
  }
}
