import Base
import Datasets
import Observability
import TestSupport
import Testing

@testable import Stream

@Suite struct LabelJoinerTests {
  static let configuration = LabelJoiner.Configuration(
    waitMilliseconds: 1_000, maxOutOfOrdernessMilliseconds: 100, maxPending: 100)

  func impression(_ id: String, _ time: Int64, label: Bool? = nil) -> Event {
    Event(kind: .impression, id: id, timeMilliseconds: time, region: "r", label: label)
  }

  func click(_ id: String, _ time: Int64) -> Event {
    Event(kind: .click, id: id, timeMilliseconds: time)
  }

  /// Feeds `events` to partition 0 and returns "id:label:outcome@emitted" per example.
  func run(
    _ joiner: inout LabelJoiner, _ events: [Event], partition: Int32 = 0
  ) -> [String] {
    var output: [LabelJoiner.LabelledExample] = []
    for event in events { joiner.process(event, partition: partition, into: &output) }
    return output.map {
      "\($0.impression.id):\($0.label ? 1 : 0):\($0.outcome.rawValue)@\($0.emittedAtMilliseconds)"
    }
  }

  @Test func clickWithinWaitLabelsPositive() {
    var joiner = LabelJoiner(configuration: Self.configuration)
    #expect(run(&joiner, [impression("a", 1_000)]) == [])
    #expect(run(&joiner, [click("a", 2_000)]) == ["a:1:clicked@1900"])
    #expect(joiner.pendingCount == 0)
    #expect(joiner.counts.clicked == 1)
  }

  @Test func expiresWhenTheWatermarkPassesTheDeadline() {
    var joiner = LabelJoiner(configuration: Self.configuration)
    // Deadline 2000: the watermark must pass it, i.e. an event after 2100.
    #expect(run(&joiner, [impression("a", 1_000), impression("b", 2_100)]) == [])
    #expect(run(&joiner, [impression("c", 2_101)]) == ["a:0:expired@2001"])
    #expect(joiner.counts.expired == 1)
    // A click exactly at b's deadline still counts.
    #expect(run(&joiner, [click("b", 3_100)]) == ["b:1:clicked@3000"])
  }

  @Test func preLabelledImpressionsPassThrough() {
    var joiner = LabelJoiner(configuration: Self.configuration)
    let labelled = run(
      &joiner, [impression("a", 500, label: true), impression("b", 600, label: false)])
    #expect(labelled == ["a:1:prelabelled@400", "b:0:prelabelled@500"])
    #expect(joiner.pendingCount == 0)
    #expect(run(&joiner, [click("a", 700)]) == [])
    #expect(joiner.counts.duplicateClicks == 1)
  }

  @Test func countsDuplicateAndLateClicks() {
    var joiner = LabelJoiner(configuration: Self.configuration)
    _ = run(&joiner, [impression("a", 0), impression("b", 0), click("a", 10), click("a", 20)])
    #expect(joiner.counts.duplicateClicks == 1)
    // A click after b's wait while b still waits (watermark lags) is late; b expires negative.
    #expect(run(&joiner, [click("b", 1_050)]) == [])
    #expect(joiner.counts.lateClicks == 1)
    #expect(run(&joiner, [impression("c", 1_200)]) == ["b:0:expired@1100"])
    // A click on an expired impression is late too, and so is an unknown click behind the watermark.
    _ = run(&joiner, [click("b", 1_150), click("zzz", 900)])
    #expect(joiner.counts.lateClicks == 3)
    #expect(joiner.counts.clicked == 1)
  }

  @Test func clickBeforeItsImpressionStillJoins() {
    var joiner = LabelJoiner(configuration: Self.configuration)
    _ = run(&joiner, [impression("x", 5_000)])
    // The click on "a" arrives first; "a" is 80 ms behind the newest event, within the bound.
    #expect(run(&joiner, [click("a", 5_000)]) == [])
    #expect(run(&joiner, [impression("a", 4_920)]) == ["a:1:clicked@4900"])
    #expect(joiner.counts.orphanClicks == 0)
    // An early click whose impression never comes becomes an orphan once the watermark passes it.
    _ = run(&joiner, [click("ghost", 5_010), impression("y", 5_111)])
    #expect(joiner.counts.orphanClicks == 1)
    // A repeated early click is a duplicate.
    _ = run(&joiner, [click("b", 5_200), click("b", 5_201)])
    #expect(joiner.counts.duplicateClicks == 1)
  }

  @Test func impressionBehindItsDeadlineIsLabelledAtOnce() {
    var joiner = LabelJoiner(configuration: Self.configuration)
    _ = run(&joiner, [impression("now", 10_000)])
    #expect(run(&joiner, [impression("old", 1_000)]) == ["old:0:expired@9900"])
    #expect(run(&joiner, [impression("now", 10_001)]) == [])
    #expect(joiner.counts.duplicateImpressions == 1)
  }

  @Test func boundsPendingImpressionsOldestFirst() {
    var joiner = LabelJoiner(
      configuration: .init(
        waitMilliseconds: 1_000, maxOutOfOrdernessMilliseconds: 100, maxPending: 3))
    let events = [
      impression("a", 10), impression("b", 5), impression("c", 20), impression("d", 30),
      impression("e", 40),
    ]
    #expect(run(&joiner, events) == ["b:0:evicted@-70", "a:0:evicted@-60"])
    #expect(joiner.counts.evicted == 2)
    #expect(joiner.pendingCount == 3)
    // Early clicks are bounded the same way.
    _ = run(&joiner, (0..<5).map { click("early\($0)", 50 + Int64($0)) })
    #expect(joiner.counts.overflowClicks == 2)
  }

  @Test func partitionsKeepTheirOwnEventTime() {
    var joiner = LabelJoiner(configuration: Self.configuration)
    _ = run(&joiner, [impression("a", 0)], partition: 0)
    #expect(run(&joiner, [impression("b", 50_000)], partition: 1) == [])
    #expect(joiner.watermark(partition: 0) == -100)
    #expect(joiner.watermark(partition: 1) == 49_900)
    #expect(joiner.watermark(partition: 2) == nil)
    #expect(run(&joiner, [click("a", 900)], partition: 0) == ["a:1:clicked@800"])
  }

  @Test func flushLabelsEverythingLeft() {
    var joiner = LabelJoiner(configuration: Self.configuration)
    _ = run(&joiner, [impression("a", 0), impression("b", 10), click("c", 20)])
    var output: [LabelJoiner.LabelledExample] = []
    joiner.flush(into: &output)
    #expect(output.map(\.impression.id) == ["a", "b"])
    #expect(output.allSatisfy { !$0.label && $0.outcome == .expired })
    #expect(joiner.counts.orphanClicks == 1)
    #expect(joiner.pendingCount == 0)
  }

  @Test func stateRoundTripsAndResumesIdentically() {
    // Impressions every 10 ms, half of them clicked (some after the wait, some a little before
    // the impression), a few clicked twice; arrival order jittered by up to 90 ms.
    var generator = SplitMix64(seed: 99)
    var arrivals: [(key: Int64, event: Event)] = []
    for index in 0..<3_000 {
      let time = Int64(index * 10)
      var timed = [impression("i\(index)", time)]
      if Bool.random(using: &generator) {
        timed.append(click("i\(index)", time + Int64.random(in: -50...1_300, using: &generator)))
      }
      if index % 97 == 0 { timed.append(click("i\(index)", time + 5)) }
      for event in timed {
        let jitter = Int64.random(in: 0...90, using: &generator)
        arrivals.append((event.timeMilliseconds + jitter, event))
      }
    }
    let events = arrivals.enumerated().sorted {
      ($0.element.key, $0.offset) < ($1.element.key, $1.offset)
    }.map(\.element.event)
    let configuration = LabelJoiner.Configuration(
      waitMilliseconds: 1_000, maxOutOfOrdernessMilliseconds: 100, maxPending: 95)
    var straight = LabelJoiner(configuration: configuration)
    let straightOutput = run(&straight, events)

    var first = LabelJoiner(configuration: configuration)
    var resumedOutput = run(&first, Array(events[..<2_000]))
    let state = first.exportState()
    #expect(!state.partitions[0].pending.isEmpty)
    var second = LabelJoiner(configuration: configuration, restoring: state)
    #expect(second.exportState() == state)
    resumedOutput += run(&second, Array(events[2_000...]))

    #expect(resumedOutput == straightOutput)
    #expect(second.exportState() == straight.exportState())
    let counts = straight.counts
    #expect(counts.clicked > 1_000 && counts.expired > 1_000 && counts.evicted > 0)
    #expect(counts.duplicateClicks > 0 && counts.lateClicks > 0)
    let labelled = counts.clicked + counts.expired + counts.evicted + counts.preLabelled
    #expect(labelled + straight.pendingCount == 3_000)
    let clicks = events.filter { $0.kind == .click }.count
    let earlyLeft = straight.exportState().partitions[0].earlyClicks.count
    let droppedClicks =
      counts.duplicateClicks + counts.lateClicks + counts.orphanClicks + counts.overflowClicks
    #expect(counts.clicked + droppedClicks + earlyLeft == clicks)
  }

  @Test func countsIntoMetrics() {
    let metrics = MetricsRegistry()
    var joiner = LabelJoiner(configuration: Self.configuration, metrics: metrics)
    _ = run(&joiner, [impression("a", 0), impression("b", 0), click("a", 1), click("a", 2)])
    let text = metrics.render()
    #expect(text.contains(#"iak_label_examples_total{outcome="clicked"} 1"#))
    #expect(text.contains(#"iak_label_clicks_dropped_total{reason="duplicate"} 1"#))
    #expect(text.contains("iak_label_pending 1\n"))
  }

  @Test(.enabled(if: MovieLensFixture.isAvailable, "run scripts/fetch-data first"))
  func joinsTheSplitMovieLensClicks() throws {
    let converter = try MovieLensConverter(directory: MovieLensFixture.directory)
    var joiner = LabelJoiner(
      configuration: .init(
        waitMilliseconds: 10_000, maxOutOfOrdernessMilliseconds: 1_000, maxPending: 100_000))
    var output: [LabelJoiner.LabelledExample] = []
    converter.forEachEvent(options: .init(splitClicks: true)) { event in
      joiner.process(event, partition: 0, into: &output)
    }
    joiner.flush(into: &output)
    #expect(output.count == 100_000)
    #expect(joiner.counts.clicked == 55_375)
    #expect(joiner.counts.expired == 44_625)
    #expect(joiner.counts.lateClicks + joiner.counts.duplicateClicks == 0)
    #expect(
      zip(output, output.dropFirst()).allSatisfy {
        $0.emittedAtMilliseconds <= $1.emittedAtMilliseconds
      })
  }
}
