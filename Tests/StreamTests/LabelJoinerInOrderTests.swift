import Testing

@testable import Stream

/// `label.release = in_order`: a clicked impression waits out its wait like an unclicked one, so
/// examples leave in impression order whatever their label.
@Suite struct LabelJoinerInOrderTests {
  static let configuration = LabelJoiner.Configuration(
    waitMilliseconds: 1_000, maxOutOfOrdernessMilliseconds: 100, maxPending: 100,
    releasesInImpressionOrder: true)

  func impression(_ id: String, _ time: Int64) -> Event {
    Event(kind: .impression, id: id, timeMilliseconds: time, region: "r")
  }

  func click(_ id: String, _ time: Int64) -> Event {
    Event(kind: .click, id: id, timeMilliseconds: time)
  }

  /// Feeds `events` to partition 0 and returns "id:label:outcome@emitted" per example.
  func run(_ joiner: inout LabelJoiner, _ events: [Event]) -> [String] {
    var output: [LabelJoiner.LabelledExample] = []
    for event in events { joiner.process(event, partition: 0, into: &output) }
    #expect(output.allSatisfy { $0.impression.label == nil })
    return output.map {
      "\($0.impression.id):\($0.label ? 1 : 0):\($0.outcome.rawValue)@\($0.emittedAtMilliseconds)"
    }
  }

  @Test func aClickedImpressionLeavesAtItsDeadlineInImpressionOrder() {
    var joiner = LabelJoiner(configuration: Self.configuration)
    // a (deadline 2000) is not clicked, b (deadline 2500) is, at 1600: b waits behind a.
    #expect(
      run(&joiner, [impression("a", 1_000), impression("b", 1_500), click("b", 1_600)]) == [])
    #expect(joiner.pendingCount == 2)
    // A second click while b is held is a duplicate.
    #expect(run(&joiner, [click("b", 1_700)]) == [])
    #expect(joiner.counts.duplicateClicks == 1)
    #expect(run(&joiner, [impression("c", 2_101)]) == ["a:0:expired@2001"])
    #expect(run(&joiner, [impression("d", 2_601)]) == ["b:1:clicked@2501"])
    #expect(joiner.counts.clicked == 1 && joiner.counts.expired == 1)
    // Once released, a click on b is a duplicate, as on_click counts it.
    _ = run(&joiner, [click("b", 2_450)])
    #expect(joiner.counts.duplicateClicks == 2)
  }

  @Test func anEarlyClickIsHeldWithItsImpression() {
    var joiner = LabelJoiner(configuration: Self.configuration)
    _ = run(&joiner, [impression("x", 5_000)])
    #expect(run(&joiner, [click("a", 5_000), impression("a", 4_920)]) == [])
    // a's deadline (5920) is before x's (6000): a leaves first, with its click.
    #expect(run(&joiner, [impression("y", 6_101)]) == ["a:1:clicked@6001", "x:0:expired@6001"])
    #expect(joiner.counts.orphanClicks == 0)
  }

  @Test func evictionAndFlushKeepTheClick() {
    var joiner = LabelJoiner(
      configuration: .init(
        waitMilliseconds: 1_000, maxOutOfOrdernessMilliseconds: 100, maxPending: 1,
        releasesInImpressionOrder: true))
    _ = run(&joiner, [impression("a", 0), click("a", 10)])
    // b pushes a out early: it is still the positive it was clicked as.
    #expect(run(&joiner, [impression("b", 20)]) == ["a:1:clicked@-80"])
    #expect(joiner.counts.evicted == 0 && joiner.counts.clicked == 1)
    _ = run(&joiner, [click("b", 30)])
    var output: [LabelJoiner.LabelledExample] = []
    joiner.flush(into: &output)
    #expect(output.map { "\($0.impression.id):\($0.label)" } == ["b:true"])
    #expect(output.allSatisfy { $0.impression.label == nil })
  }

  @Test func aHeldClickSurvivesExportAndRestore() throws {
    var joiner = LabelJoiner(configuration: Self.configuration)
    _ = run(&joiner, [impression("a", 1_000), click("a", 1_100), impression("b", 1_200)])
    let bytes = joiner.exportState().serialized()
    var restored = LabelJoiner(
      configuration: Self.configuration, restoring: try LabelJoiner.State(bytes: bytes))
    let later = [impression("c", 2_500)]
    #expect(run(&joiner, later) == ["a:1:clicked@2400", "b:0:expired@2400"])
    #expect(run(&restored, later) == ["a:1:clicked@2400", "b:0:expired@2400"])
  }

  @Test func sameExamplesAsOnClickOnlyLater() {
    // Every impression gets the same label either way; only when it leaves differs.
    var events: [Event] = []
    for index in 0..<200 {
      let time = Int64(index) * 37
      events.append(impression("i\(index)", time))
      if index % 3 == 0 { events.append(click("i\(index)", time + Int64(index % 7) * 100)) }
    }
    var inOrder = LabelJoiner(configuration: Self.configuration)
    var onClick = LabelJoiner(
      configuration: .init(waitMilliseconds: 1_000, maxOutOfOrdernessMilliseconds: 100))
    var first: [LabelJoiner.LabelledExample] = []
    var second: [LabelJoiner.LabelledExample] = []
    for event in events {
      inOrder.process(event, partition: 0, into: &first)
      onClick.process(event, partition: 0, into: &second)
    }
    inOrder.flush(into: &first)
    onClick.flush(into: &second)
    let labels = { (examples: [LabelJoiner.LabelledExample]) in
      Dictionary(uniqueKeysWithValues: examples.map { ($0.impression.id, $0.label) })
    }
    #expect(first.count == 200 && labels(first) == labels(second))
    #expect(labels(first).values.filter { $0 }.count == 67)
    // In order: by impression time; on click: not.
    let times = first.map(\.impression.timeMilliseconds)
    #expect(times == times.sorted())
    #expect(second.map(\.impression.timeMilliseconds) != times)
  }
}
