import Base
import Testing

@testable import Stream

/// `label.mode = fake_negative | es_dfm`: an impression trains before its label is known (a
/// provisional negative), its click trains it again as a positive, and its final label leaves
/// apart, with its serving score, for the serving-time figures.
@Suite struct LabelJoinerDelayedFeedbackTests {
  static func configuration(_ mode: LabelJoiner.Mode, window: Int64 = 0)
    -> LabelJoiner.Configuration
  {
    LabelJoiner.Configuration(
      waitMilliseconds: 1_000, maxOutOfOrdernessMilliseconds: 100, maxPending: 100, mode: mode,
      observationWindowMilliseconds: window)
  }

  func impression(_ id: String, _ time: Int64) -> Event {
    Event(kind: .impression, id: id, timeMilliseconds: time, region: "r")
  }

  func click(_ id: String, _ time: Int64) -> Event {
    Event(kind: .click, id: id, timeMilliseconds: time)
  }

  static let score = ServingScore(backboneLogit: -1, kernelLogit: -0.5, servesKernel: false)

  /// Feeds `events` to partition 0, each impression scored with `score`, and returns
  /// "id:label:use:outcome@emitted" per example (`+delay` for a click, `!` when it corrects a
  /// provisional negative).
  func run(_ joiner: inout LabelJoiner, _ events: [Event]) -> [String] {
    var output: [LabelJoiner.LabelledExample] = []
    for event in events { joiner.process(event, partition: 0, score: Self.score, into: &output) }
    for example in output {
      // Only a serving-time record carries the score it was served with.
      #expect((example.score != nil) == example.use.evaluates)
    }
    return output.map { Self.describe($0) }
  }

  static func describe(_ example: LabelJoiner.LabelledExample) -> String {
    let use = ["both", "train", "eval"][Int(example.use.rawValue)]
    let delay = example.clickDelayMilliseconds.map { "+\($0)" } ?? ""
    let corrects = example.correctsProvisional ? "!" : ""
    return "\(example.impression.id):\(example.label ? 1 : 0):\(use):"
      + "\(example.outcome.rawValue)\(delay)\(corrects)@\(example.emittedAtMilliseconds)"
  }

  @Test func fakeNegativeTrainsAtOnceAndAgainAtTheClick() {
    var joiner = LabelJoiner(configuration: Self.configuration(.fakeNegative))
    // Both impressions train at once as negatives.
    #expect(
      run(&joiner, [impression("a", 1_000), impression("b", 1_100)]) == [
        "a:0:train:provisional@900", "b:0:train:provisional@1000",
      ])
    // a's click within its wait: a positive copy that corrects the fake negative, at once.
    #expect(run(&joiner, [click("a", 1_400)]) == ["a:1:train:clicked+400!@1300"])
    // A second click is a duplicate.
    #expect(run(&joiner, [click("a", 1_500)]) == [])
    #expect(joiner.counts.duplicateClicks == 1)
    // The final labels leave at their deadlines, in impression order whatever the label: a's
    // with its score, then b's (its wait ended unclicked; nothing more trains).
    #expect(
      run(&joiner, [impression("c", 2_201)]) == [
        "c:0:train:provisional@2101", "a:1:eval:clicked+400@2101", "b:0:eval:expired@2101",
      ])
    // A click after the wait is late, as with label.mode = wait.
    _ = run(&joiner, [click("b", 2_150)])
    #expect(joiner.counts.lateClicks == 1)
    #expect(joiner.counts.provisional == 3 && joiner.counts.fakeNegatives == 1)
    #expect(joiner.counts.clicked == 1 && joiner.counts.expired == 1)
  }

  @Test func esDFMWaitsItsWindowThenSendsAProvisionalNegative() {
    var joiner = LabelJoiner(configuration: Self.configuration(.esDFM, window: 300))
    #expect(run(&joiner, [impression("a", 1_000), impression("b", 1_050)]) == [])
    // b is clicked inside its window: one positive, correcting nothing; no provisional
    // negative when its window ends.
    #expect(run(&joiner, [click("b", 1_200)]) == ["b:1:train:clicked+150@1100"])
    // a's window (1300) ends unclicked: a provisional negative, still waiting for its click.
    #expect(run(&joiner, [impression("x", 1_401)]) == ["a:0:train:provisional@1301"])
    #expect(run(&joiner, [click("a", 1_800)]) == ["a:1:train:clicked+800!@1700"])
    #expect(joiner.counts.fakeNegatives == 1 && joiner.counts.provisional == 1)
    // By deadline: x's window (1701) ends, then the final labels of a (2000) and b (2050).
    #expect(
      run(&joiner, [impression("y", 2_151)]) == [
        "x:0:train:provisional@2051", "a:1:eval:clicked+800@2051", "b:1:eval:clicked+150@2051",
      ])
  }

  @Test func aLongSilenceEndsTheWindowAndTheWaitTogether() {
    var joiner = LabelJoiner(configuration: Self.configuration(.esDFM, window: 300))
    _ = run(&joiner, [impression("a", 1_000)])
    // The watermark jumps past a's wait: its provisional negative, then its final label.
    #expect(
      run(&joiner, [impression("z", 5_000)]) == [
        "a:0:train:provisional@4900", "a:0:eval:expired@4900",
      ])
  }

  @Test func anEarlyClickTrainsOncePositive() {
    var joiner = LabelJoiner(configuration: Self.configuration(.fakeNegative))
    #expect(
      run(&joiner, [click("a", 1_000), impression("a", 990)]) == ["a:1:train:clicked+10@900"])
    #expect(joiner.counts.provisional == 0)
    var output: [LabelJoiner.LabelledExample] = []
    joiner.flush(into: &output)
    #expect(output.map(Self.describe) == ["a:1:eval:clicked+10@1990"])
  }

  @Test func flushAndEvictionSendWhatIsOwed() {
    var joiner = LabelJoiner(
      configuration: .init(
        waitMilliseconds: 1_000, maxOutOfOrdernessMilliseconds: 100, maxPending: 1,
        mode: .esDFM, observationWindowMilliseconds: 300))
    _ = run(&joiner, [impression("a", 1_000)])
    // b pushes a out inside its window: its provisional negative and its (evicted) label.
    #expect(
      run(&joiner, [impression("b", 1_010)]) == [
        "a:0:train:provisional@910", "a:0:eval:evicted@910",
      ])
    var output: [LabelJoiner.LabelledExample] = []
    joiner.flush(into: &output)
    #expect(
      output.map(Self.describe) == [
        "b:0:train:provisional@1310", "b:0:eval:expired@2010",
      ])
  }

  @Test func aProvisionalImpressionSurvivesExportAndRestore() throws {
    let configuration = Self.configuration(.esDFM, window: 300)
    var joiner = LabelJoiner(configuration: configuration)
    _ = run(&joiner, [impression("a", 1_000), impression("b", 1_200), impression("x", 1_401)])
    let bytes = joiner.exportState().serialized()
    var restored = LabelJoiner(
      configuration: configuration, restoring: try LabelJoiner.State(bytes: bytes))
    #expect(restored.exportState() == joiner.exportState())
    let later = [click("a", 1_500), click("b", 1_600), impression("y", 2_500)]
    let expected = run(&joiner, later)
    #expect(run(&restored, later) == expected)
    #expect(expected.contains("a:1:train:clicked+500!@1400"))
    // b's click came after its window but before the watermark closed it: in the window.
    #expect(expected.contains("b:1:train:clicked+400@1500"))
    #expect(restored.counts == joiner.counts)
  }

  @Test func waitModeRecordsTheClickDelay() {
    var joiner = LabelJoiner(
      configuration: .init(
        waitMilliseconds: 1_000, maxOutOfOrdernessMilliseconds: 100,
        releasesInImpressionOrder: true))
    _ = run(&joiner, [impression("a", 1_000), click("a", 1_250)])
    #expect(run(&joiner, [impression("z", 2_101)]) == ["a:1:both:clicked+250@2001"])
  }
}

extension LabelJoinerDelayedFeedbackTests {
  /// Every copy of an impression, the training copies of a delayed-feedback mode too (which
  /// carry no score), carries the ticket to the frozen layers' output its score was given, so
  /// its batch can copy them (`FrozenRowTicket`).
  @Test(arguments: [LabelJoiner.Mode.wait, .fakeNegative, .esDFM])
  func everyCopyCarriesItsImpressionsFrozenRowTicket(mode: LabelJoiner.Mode) {
    var joiner = LabelJoiner(configuration: Self.configuration(mode, window: 200))
    var output: [LabelJoiner.LabelledExample] = []
    let events = [
      impression("a", 1_000), impression("b", 1_100), click("a", 1_150), impression("c", 1_300),
      click("b", 1_500), click("c", 1_350), impression("d", 3_000), impression("e", 4_500),
    ]
    for event in events {
      var score = Self.score
      if event.kind == .impression {
        score.frozenRow = FrozenRowTicket(UInt64(Character(event.id).asciiValue!))
      }
      joiner.process(event, partition: 0, score: score, into: &output)
    }
    #expect(output.count >= 4, "\(mode): \(output.map { Self.describe($0) })")
    #expect(output.contains { !$0.use.evaluates } == (mode != .wait))
    for example in output {
      #expect(
        example.frozenRow.value == UInt64(Character(example.impression.id).asciiValue!),
        "\(mode): \(Self.describe(example))")
    }
  }
}
