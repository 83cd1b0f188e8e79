import Testing

@testable import Learner

@Suite struct DriftDataDriftTests {
  /// The examples after the change at which `ctr_drift` first fired, per seed.
  static func clickRateStepDelays(from before: Double, to after: Double, seeds: Range<UInt64>)
    -> [Int?]
  {
    seeds.map { seed in
      var generator = SeededGenerator(seed: seed)
      var monitor = DomainDriftMonitor(domain: "d", settings: DriftSettings())
      let examples =
        DriftStreams.examples(20_000, rate: before, using: &generator)
        + DriftStreams.examples(20_000, rate: after, using: &generator)
      let fired = DriftStreams.feed(&monitor, examples: examples).filter {
        $0.detector == .ctrDrift && $0.transition == .fired
      }
      guard let first = fired.first, first.examplesSeen > 20_000 else { return nil }
      return first.examplesSeen - 20_000
    }
  }

  @Test func clickRateStepIsFoundWithinABoundedDelay() {
    let delays = Self.clickRateStepDelays(from: 0.1, to: 0.5, seeds: 0..<20)
    #expect(delays.allSatisfy { $0 != nil && $0! >= 1 && $0! <= 300 }, "delays: \(delays)")
  }

  @Test func clickRateDropIsFoundToo() {
    let delays = Self.clickRateStepDelays(from: 0.55, to: 0.3, seeds: 0..<5)
    #expect(delays.allSatisfy { $0 != nil && $0! <= 1000 }, "delays: \(delays)")
  }

  @Test func ctrDriftEventSaysWhatCrossedWhat() {
    var generator = SeededGenerator(seed: 3)
    var monitor = DomainDriftMonitor(domain: "d", settings: DriftSettings())
    let examples =
      DriftStreams.examples(5000, rate: 0.1, using: &generator)
      + DriftStreams.examples(1000, rate: 0.5, using: &generator)
    let fired = DriftStreams.feed(&monitor, examples: examples).first {
      $0.detector == .ctrDrift
    }
    let event = try! #require(fired)
    #expect(event.value > 80)
    #expect(event.threshold == 80)
    #expect(event.window.unit == .examples)
    #expect(event.window.length > 5000, "the test had seen the stream since its start")
  }

  @Test func flappingClickRateAlertsOncePerClear() {
    var generator = SeededGenerator(seed: 21)
    var monitor = DomainDriftMonitor(domain: "d", settings: DriftSettings())
    var examples: [DriftExample] = DriftStreams.examples(5000, rate: 0.1, using: &generator)
    for period in 0..<30 {
      examples += DriftStreams.examples(
        400, rate: period % 2 == 0 ? 0.5 : 0.1, using: &generator)
    }
    examples += DriftStreams.examples(8000, rate: 0.1, using: &generator)
    let ctr = DriftStreams.feed(&monitor, examples: examples).filter {
      $0.detector == .ctrDrift
    }
    #expect(ctr.map(\.transition) == [.fired, .cleared])
    #expect((ctr.last?.examplesSeen ?? 0) > 5000 + 12_000)
  }

  @Test(arguments: [0.1, 0.55])
  func stationaryStreamRaisesNoAlert(rate: Double) {
    var generator = SeededGenerator(seed: 2024)
    var monitor = DomainDriftMonitor(domain: "d", settings: DriftSettings())
    let examples = DriftStreams.examples(200_000, rate: rate, using: &generator)
    let events = DriftStreams.feed(&monitor, examples: examples, firstStep: 0)
    #expect(events.isEmpty, "false alarms: \(events)")
    #expect(monitor.examplesSeen == 200_000)
  }

  @Test func invalidExamplesAreSkippedAndCounted() {
    var monitor = DomainDriftMonitor(domain: "d", settings: DriftSettings())
    let examples = [
      DriftExample(kernelLoss: .nan, backboneLoss: 0.1, label: 0),
      DriftExample(kernelLoss: 0.1, backboneLoss: -1, label: 0),
      DriftExample(kernelLoss: 0.1, backboneLoss: 0.1, label: .infinity),
      DriftExample(kernelLoss: 0.1, backboneLoss: 0.1, label: 1),
    ]
    _ = monitor.observe(DriftStreams.healthy(step: 1, examples: examples))
    #expect(monitor.invalidExamples == 3)
    #expect(monitor.examplesSeen == 1)
    #expect(monitor.relevanceWindow.count == 1)
  }
}
