import Base
import Observability
import Testing

@testable import Stream

/// Issue 14, item 7: what waits in the joiner is bounded by bytes (`maxPendingBytes`, per
/// partition), not by count alone, and a waiting impression keeps only what training reads.
@Suite struct LabelJoinerBytesTests {
  /// An impression `blobBytes` bigger than a bare one (a feature `blob` of that many bytes), with
  /// ids of one length, so every impression of a size holds the same bytes.
  static func impression(
    _ index: Int, _ time: Int64, blobBytes: Int = 0, label: Bool? = nil
  ) -> Event {
    var categorical = [Event.Feature(name: "user", value: "u\(index % 10)")]
    if blobBytes > 0 {
      categorical.append(.init(name: "blob", value: String(repeating: "x", count: blobBytes)))
    }
    return Event(
      kind: .impression, id: "imp-\(10_000 + index)", timeMilliseconds: time, region: "r",
      categorical: categorical, label: label)
  }

  static func click(_ index: Int, _ time: Int64) -> Event {
    Event(kind: .click, id: "imp-\(10_000 + index)", timeMilliseconds: time)
  }

  /// The value of the series `line` starts (`name{labels}`) in `text`, or nil.
  static func value(of line: String, in text: String) -> Double? {
    text.split(separator: "\n").first { $0.hasPrefix(line + " ") }
      .flatMap { Double($0.dropFirst(line.count + 1)) }
  }

  /// The bytes a joiner's partition holds, counted from its exported state.
  static func recounted(_ joiner: LabelJoiner, partition: Int32) -> LabelJoiner.HeldBytes {
    joiner.exportState(partition: partition).partitions.first.map {
      LabelJoiner.HeldBytes(counting: $0)
    } ?? LabelJoiner.HeldBytes()
  }

  /// The report's case: 4,000 impressions of about 60 KB, none clicked, all within one wait.
  /// On main (count bound only) all 4,000 waited: 240 MB in the joiner and its snapshot.
  @Test func fourThousandSixtyKilobyteImpressionsStayWithinTheByteBound() throws {
    let bound = 1 << 20
    let metrics = MetricsRegistry()
    var joiner = LabelJoiner(
      configuration: .init(
        waitMilliseconds: 7_200_000, maxOutOfOrdernessMilliseconds: 0, maxPending: 1_000_000,
        maxPendingBytes: bound),
      metrics: metrics)
    var output: [LabelJoiner.LabelledExample] = []
    var most = 0
    for index in 0..<4_000 {
      joiner.process(
        Self.impression(index, Int64(index) * 1_000, blobBytes: 60_000), partition: 0,
        into: &output)
      most = max(most, joiner.heldBytes(partition: 0).impressions)
    }
    let one = LabelJoiner.PendingImpression(
      impression: Self.impression(0, 0, blobBytes: 60_000), deadlineMilliseconds: 0, sequence: 0
    ).heldBytes
    #expect(one == 192 + 9 + 1 + (64 + 4 + 2) + (64 + 4 + 60_000))
    let waiting = bound / one
    #expect(waiting == 17)
    #expect(most <= bound)
    #expect(joiner.pendingCount == waiting)
    #expect(joiner.heldBytes(partition: 0).impressions == waiting * one)
    // The rest left as negatives, earliest deadline first, each counted as evicted for bytes.
    let evicted = 4_000 - waiting
    #expect(output.map(\.impression.id) == (0..<evicted).map { "imp-\(10_000 + $0)" })
    #expect(output.allSatisfy { !$0.label && $0.outcome == .evicted })
    #expect(joiner.counts.evicted == evicted)
    let text = metrics.render()
    #expect(Self.value(of: #"iak_label_examples_total{outcome="evicted"}"#, in: text) == 3_983)
    #expect(Self.value(of: #"iak_label_evictions_total{reason="bytes"}"#, in: text) == 3_983)
    #expect(Self.value(of: #"iak_label_evictions_total{reason="count"}"#, in: text) == 0)
    #expect(
      Self.value(of: #"iak_label_pending_bytes{kind="impressions"}"#, in: text)
        == Double(waiting * one))
    // The snapshot's joiner state is bounded by what the joiner holds (about 1 MiB, not 240 MB).
    let held = joiner.heldBytes
    let encoded = joiner.exportState().serialized().count
    #expect(encoded <= 128 + held.impressions + held.earlyClicks + held.resolvedIDs)
    #expect(encoded < 1_200_000)
    #expect(Self.recounted(joiner, partition: 0) == held)
  }

  @Test func anImpressionLargerThanTheBoundNeverWaitsAndPushesNoneOut() {
    let metrics = MetricsRegistry()
    var joiner = LabelJoiner(
      configuration: .init(
        waitMilliseconds: 10_000, maxOutOfOrdernessMilliseconds: 0, maxPendingBytes: 100_000),
      metrics: metrics)
    var output: [LabelJoiner.LabelledExample] = []
    for index in 0..<3 { joiner.process(Self.impression(index, 0), partition: 0, into: &output) }
    joiner.process(
      Self.impression(3, 10, blobBytes: 100_000), partition: 0, score: nil, into: &output)
    #expect(output.map(\.impression.id) == ["imp-10003"])
    #expect(output.map(\.outcome) == [.evicted])
    #expect(output.first?.emittedAtMilliseconds == 10)
    #expect(joiner.pendingCount == 3)
    // Its click comes after its label: late.
    joiner.process(Self.click(3, 20), partition: 0, into: &output)
    #expect(joiner.counts.lateClicks == 1)
    #expect(
      Self.value(of: #"iak_label_evictions_total{reason="bytes"}"#, in: metrics.render()) == 1)
  }

  @Test func evictionsAreCountedByTheBoundThatPushedThemOut() {
    let metrics = MetricsRegistry()
    var joiner = LabelJoiner(
      configuration: .init(
        waitMilliseconds: 10_000, maxOutOfOrdernessMilliseconds: 0, maxPending: 3,
        maxPendingBytes: 20_000),
      metrics: metrics)
    var output: [LabelJoiner.LabelledExample] = []
    // Four small impressions: the count bound pushes one out.
    for index in 0..<4 { joiner.process(Self.impression(index, 0), partition: 0, into: &output) }
    // Then one of 19.4 KB: the count bound pushes out one more, the byte bound the other two.
    joiner.process(Self.impression(4, 1, blobBytes: 19_400), partition: 0, into: &output)
    #expect(output.map(\.impression.id) == ["imp-10000", "imp-10001", "imp-10002", "imp-10003"])
    #expect(joiner.pendingCount == 1)
    let text = metrics.render()
    #expect(Self.value(of: #"iak_label_evictions_total{reason="count"}"#, in: text) == 2)
    #expect(Self.value(of: #"iak_label_evictions_total{reason="bytes"}"#, in: text) == 2)
    #expect(Self.value(of: #"iak_label_examples_total{outcome="evicted"}"#, in: text) == 4)
  }

  @Test func earlyClicksAndRememberedIDsAreBoundedByBytesToo() {
    let bound = 100_000
    var joiner = LabelJoiner(
      configuration: .init(
        waitMilliseconds: 10_000, maxOutOfOrdernessMilliseconds: 1_000, maxPendingBytes: bound))
    var output: [LabelJoiner.LabelledExample] = []
    let longID = String(repeating: "k", count: 10_000)
    // Clicks on impressions not seen yet, each id 10 KB: at most 9 fit in 100,000 bytes.
    for index in 0..<30 {
      joiner.process(
        Event(kind: .click, id: longID + "\(100 + index)", timeMilliseconds: 5_000),
        partition: 0, into: &output)
    }
    #expect(joiner.heldBytes(partition: 0).earlyClicks == 9 * (96 + 10_003))
    #expect(joiner.counts.overflowClicks == 21)
    // Pre-labelled impressions pass through, their ids remembered within the bound.
    for index in 0..<30 {
      var impression = Self.impression(index, 5_000, label: false)
      impression.id = longID + "\(200 + index)"
      joiner.process(impression, partition: 0, into: &output)
    }
    #expect(output.count == 30)
    #expect(joiner.heldBytes(partition: 0).resolvedIDs == 9 * (96 + 10_003))
    #expect(Self.recounted(joiner, partition: 0) == joiner.heldBytes(partition: 0))
  }

  /// A waiting impression computes its bytes when its impression is set, not when asked: every
  /// change of the impression (features trimmed on restore, a label, a new feature) must give
  /// the bytes of what it now holds.
  @Test func aWaitingImpressionsBytesFollowEveryChangeOfItsImpression() {
    var waiting = LabelJoiner.PendingImpression(
      impression: Self.impression(3, 0, blobBytes: 500), deadlineMilliseconds: 0, sequence: 0)
    #expect(waiting.heldBytes == 192 + 9 + 1 + (64 + 4 + 2) + (64 + 4 + 500))
    var keptNames: [String] = []
    waiting.impression = waiting.impression.keepingOnly(["user"], sameAs: &keptNames)
    #expect(waiting.heldBytes == 192 + 9 + 1 + (64 + 4 + 2))
    waiting.impression.label = true
    waiting.impression.categorical.append(.init(name: "genre", value: "Drama"))
    waiting.impression.numeric["age"] = 31
    #expect(waiting.heldBytes == 192 + 9 + 1 + (64 + 4 + 2) + (64 + 5 + 5) + (64 + 3))
    #expect(
      waiting.heldBytes == LabelJoiner.PendingImpression.heldBytes(of: waiting.impression))
  }

  /// The bytes kept up to date entry by entry equal a count from scratch after every event of a
  /// stream that exercises every path: on-time, early, late and duplicate clicks, pre-labelled
  /// and duplicate impressions, expiries, evictions by count and by bytes, oversized impressions
  /// and clicks, two partitions, a restore from bytes half-way, and the end of input.
  @Test(arguments: [false, true])
  func heldBytesEqualACountFromScratch(inOrder: Bool) throws {
    let configuration = LabelJoiner.Configuration(
      waitMilliseconds: 1_000, maxOutOfOrdernessMilliseconds: 100, maxPending: 40,
      maxPendingBytes: 24_000, releasesInImpressionOrder: inOrder)
    var generator = SplitMix64(seed: 14)
    var timed: [Event] = []
    for index in 0..<3_000 {
      let time = Int64(index * 30)
      let blob = [0, 0, 0, 50, 900, 3_000, 30_000][Int.random(in: 0..<7, using: &generator)]
      let label: Bool? = index % 17 == 0 ? Bool.random(using: &generator) : nil
      timed.append(Self.impression(index, time, blobBytes: blob, label: label))
      if index % 53 == 0 { timed.append(Self.impression(index, time + 1)) }
      if Bool.random(using: &generator) {
        let delay = Int64.random(in: -80...1_300, using: &generator)
        var click = Self.click(index, time + delay)
        if index % 101 == 0 { click.id += String(repeating: "z", count: 30_000) }
        timed.append(click)
        if index % 7 == 0 { timed.append(Self.click(index, time + delay + 5)) }
      }
    }
    // Arrival jittered by up to 90 ms, so some clicks come before their impression; the id's
    // number picks the partition.
    let arrivals = timed.map {
      ($0.timeMilliseconds + Int64.random(in: 0...90, using: &generator), $0)
    }
    let events = arrivals.enumerated().sorted {
      ($0.element.0, $0.offset) < ($1.element.0, $1.offset)
    }
    .map { (Int32(Int($0.element.1.id.dropFirst(4).prefix(5))! % 2), $0.element.1) }
    func check(_ joiner: LabelJoiner) {
      for partition: Int32 in [0, 1] {
        let held = joiner.heldBytes(partition: partition)
        #expect(held == Self.recounted(joiner, partition: partition))
        #expect(held.impressions <= 24_000 && held.earlyClicks <= 24_000)
        #expect(held.resolvedIDs <= 24_000)
      }
      // The totals over partitions are kept as events come, not summed: they must still be
      // the sums.
      let sum = [Int32(0), 1].map { Self.recounted(joiner, partition: $0) }
      #expect(
        joiner.heldBytes.impressions == sum[0].impressions + sum[1].impressions
          && joiner.heldBytes.earlyClicks == sum[0].earlyClicks + sum[1].earlyClicks
          && joiner.heldBytes.resolvedIDs == sum[0].resolvedIDs + sum[1].resolvedIDs)
      #expect(
        joiner.pendingCount
          == joiner.exportState().partitions.reduce(0) { $0 + $1.pending.count })
    }
    func feed(_ joiner: inout LabelJoiner, _ slice: ArraySlice<(Int32, Event)>) -> [String] {
      var output: [LabelJoiner.LabelledExample] = []
      for (partition, event) in slice {
        joiner.process(event, partition: partition, into: &output)
        check(joiner)
      }
      return output.map { "\($0.impression.id.count)-\($0.impression.id.suffix(5)):\($0.label)" }
    }

    var straight = LabelJoiner(configuration: configuration)
    let straightOutput = feed(&straight, events[...])
    var first = LabelJoiner(configuration: configuration)
    var resumedOutput = feed(&first, events[..<2_500])
    var second = LabelJoiner(
      configuration: configuration,
      restoring: try LabelJoiner.State(bytes: first.exportState().serialized()))
    #expect(second.heldBytes == first.heldBytes)
    check(second)
    resumedOutput += feed(&second, events[2_500...])
    #expect(resumedOutput == straightOutput)
    #expect(second.heldBytes == straight.heldBytes)
    let counts = straight.counts
    #expect(counts.evicted > 100 && counts.expired > 100 && counts.clicked > 100)
    #expect(counts.overflowClicks > 0 && counts.lateClicks > 0 && counts.duplicateClicks > 0)
    var output: [LabelJoiner.LabelledExample] = []
    straight.flush(into: &output)
    #expect(straight.heldBytes.impressions == 0 && straight.heldBytes.earlyClicks == 0)
    check(straight)
  }

  @Test func anImpressionKeepsOnlyTheFeaturesTrainingReads() {
    var event = Event(
      kind: .impression, id: "a", timeMilliseconds: 0, region: "r",
      categorical: [
        .init(name: "user", value: "u1"), .init(name: "blob", value: "xyz"),
        .init(name: "item", value: "i1"), .init(name: "user", value: "u2"),
      ],
      numeric: ["price": 2.5, "junk": 1])
    event.unreadFields = ["extra"]
    let kept = event.keepingOnly(["user", "item", "price", "absent"])
    #expect(
      kept.categorical == [.init(name: "user", value: "u1"), .init(name: "item", value: "i1")])
    #expect(kept.numeric == ["price": 2.5])
    #expect(kept.unreadFields.isEmpty)
    #expect(kept.feature("user") == event.feature("user"))
    #expect(kept.id == "a" && kept.region == "r" && kept.timeMilliseconds == 0)
    let all = event.keepingOnly(nil)
    #expect(all == event && all.unreadFields.isEmpty)
    // Already only what is kept: unchanged.
    #expect(kept.keepingOnly(["user", "item", "price"]) == kept)
  }

  /// The quick check on a stream of events alike: an event named like the last one with
  /// nothing to drop passes unchanged, and one that differs is trimmed as ever.
  @Test func eventsNamedLikeTheLastKeptOneAreKeptAndOthersStillTrimmed() {
    let features: Set<String> = ["user", "item", "price"]
    func event(_ names: [String]) -> Event {
      var event = Event(
        kind: .impression, id: "a", timeMilliseconds: 0,
        categorical: names.map { .init(name: $0, value: "v-\($0)") }, numeric: ["price": 1])
      event.unreadFields = ["extra"]
      return event
    }
    var keptNames: [String] = []
    let first = event(["user", "item"])
    let kept = first.keepingOnly(features, sameAs: &keptNames)
    #expect(kept == first && kept.unreadFields.isEmpty)
    #expect(keptNames == ["user", "item"])
    // The same names: the same event back, the names as they were.
    #expect(event(["user", "item"]).keepingOnly(features, sameAs: &keptNames) == first)
    #expect(keptNames == ["user", "item"])
    // Other names after it: trimmed exactly as without the names kept, which stay.
    for names in [["user", "blob"], ["user", "item", "user"], ["item", "user", "blob"]] {
      let other = event(names)
      let trimmed = other.keepingOnly(features, sameAs: &keptNames)
      #expect(trimmed == other.keepingOnly(features), "\(names)")
      #expect(trimmed.categorical.count < names.count, "\(names)")
      #expect(keptNames == ["user", "item"])
    }
    // Another order with nothing to drop: kept, and now the names compared against.
    #expect(
      event(["item", "user"]).keepingOnly(features, sameAs: &keptNames) == event(["item", "user"]))
    #expect(keptNames == ["item", "user"])
  }

  @Test func theJoinerKeepsOnlyTheConfiguredFeaturesAndTrimsWhatItRestores() throws {
    var untrimmed = LabelJoiner(
      configuration: .init(waitMilliseconds: 10_000, maxOutOfOrdernessMilliseconds: 0))
    var output: [LabelJoiner.LabelledExample] = []
    for index in 0..<50 {
      untrimmed.process(
        Self.impression(index, Int64(index), blobBytes: 60_000), partition: 0, into: &output)
    }
    // A state written before features were trimmed: 3 MB of blobs.
    let old = untrimmed.exportState().serialized()
    #expect(old.count > 3_000_000)

    let configuration = LabelJoiner.Configuration(
      waitMilliseconds: 10_000, maxOutOfOrdernessMilliseconds: 0, keptFeatures: ["user"])
    var restored = LabelJoiner(
      configuration: configuration, restoring: try LabelJoiner.State(bytes: old))
    var fresh = LabelJoiner(configuration: configuration)
    for index in 0..<50 {
      fresh.process(
        Self.impression(index, Int64(index), blobBytes: 60_000), partition: 0, into: &output)
    }
    #expect(output.isEmpty)
    #expect(restored.exportState() == fresh.exportState())
    #expect(restored.heldBytes == fresh.heldBytes)
    #expect(fresh.heldBytes.impressions == 50 * (192 + 9 + 1 + 64 + 4 + 2))
    #expect(fresh.exportState().serialized().count < 5_000)
    // What leaves is what training reads.
    restored.process(Self.impression(99, 20_000), partition: 0, into: &output)
    #expect(output.count == 50)
    #expect(output.allSatisfy { $0.impression.categorical.map(\.name) == ["user"] })
    #expect(output.map { $0.impression.feature("user") } == (0..<50).map { "u\($0 % 10)" })
  }
}
