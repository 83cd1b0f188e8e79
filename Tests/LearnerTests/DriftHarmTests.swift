import Testing

@testable import Learner

@Suite struct DriftHarmTests {
  @Test func invertedKernelFiresHarmAndLoglossDrift() {
    var generator = SeededGenerator(seed: 11)
    var monitor = DomainDriftMonitor(domain: "1998-03/5", settings: DriftSettings())
    let good = DriftStreams.examples(10_000, rate: 0.1, using: &generator)
    let inverted = DriftStreams.examples(
      10_000, rate: 0.1, using: &generator, invertKernel: true)
    let events = DriftStreams.feed(&monitor, examples: good + inverted)
    let harm = events.filter { $0.detector == .harm }
    #expect(harm.map(\.transition) == [.fired])
    let fired = try! #require(harm.first)
    #expect(fired.examplesSeen > 10_000)
    #expect(fired.examplesSeen <= 10_300, "a few hundred inverted examples are significant")
    #expect(fired.value < fired.threshold)
    #expect(fired.threshold == -2.326)
    #expect(fired.window == DriftWindow(length: 2000, unit: .examples))
    #expect(fired.domain == "1998-03/5")
    let logloss = events.filter { $0.detector == .loglossDrift && $0.transition == .fired }
    #expect(logloss.count == 1)
    #expect((logloss.first?.examplesSeen ?? 0) > 10_000)
    #expect((logloss.first?.examplesSeen ?? .max) <= 10_200)
    #expect(!events.contains { $0.examplesSeen <= 10_000 })
    #expect(!monitor.isHealthy)
    #expect(!monitor.isServing)
  }

  @Test func aGoodKernelServesAfterItsShadowPeriodAndAnInvertedOneStopsServing() {
    var generator = SeededGenerator(seed: 16)
    var monitor = DomainDriftMonitor(domain: "d", settings: DriftSettings())
    var servingAt: [Int: Bool] = [:]
    for chunk in 0..<40 {
      let examples = DriftStreams.examples(
        250, rate: 0.1, using: &generator, invertKernel: chunk >= 20)
      _ = DriftStreams.feed(&monitor, examples: examples, firstStep: 1000 + 8 * chunk)
      servingAt[(chunk + 1) * 250] = monitor.isServing
    }
    // Shadow until the guard has shown, at 99%, that the calibrated kernel ranks at least as
    // well as the noisy backbone (200 examples and 20 clicks at the least); then it serves
    // until, 1,000 inverted examples later, it no longer does.
    let firstServing = try! #require(servingAt.filter(\.value).keys.min())
    print("first serving after \(firstServing) examples")
    #expect(firstServing <= 5000)
    #expect(servingAt[5000] == true)
    #expect(servingAt[6000] == false)
    #expect(servingAt[10_000] == false)
  }

  @Test func harmWaitsForTheGuardsMinimumExamples() {
    var generator = SeededGenerator(seed: 12)
    var monitor = DomainDriftMonitor(domain: "d", settings: DriftSettings())
    let inverted = DriftStreams.examples(3000, rate: 0.1, using: &generator, invertKernel: true)
    let harm = DriftStreams.feed(&monitor, examples: inverted).filter { $0.detector == .harm }
    #expect(harm.map(\.examplesSeen) == [200])
    #expect(!monitor.isServing)
  }

  @Test func harmWaitsForTheKernelsWarmUp() {
    var generator = SeededGenerator(seed: 13)
    var monitor = DomainDriftMonitor(domain: "d", settings: DriftSettings())
    let inverted = DriftStreams.examples(8000, rate: 0.1, using: &generator, invertKernel: true)
    // Batches of 32 at steps 0, 1, ...: step 200 starts at example 6401, and the guard
    // compares every 50 examples: the first comparison of a warm kernel is at 6450 (step 201).
    let harm = DriftStreams.feed(&monitor, examples: inverted, firstStep: 0).filter {
      $0.detector == .harm
    }
    #expect(harm.map(\.examplesSeen) == [6450])
    #expect(harm.first?.step == 201)
    #expect(!monitor.isServing, "the guard never let the inverted kernel serve")
  }

  @Test func harmClearsWhenTheGuardShowsNoHarmAgain() {
    var generator = SeededGenerator(seed: 14)
    var monitor = DomainDriftMonitor(domain: "d", settings: DriftSettings())
    let inverted = DriftStreams.examples(3000, rate: 0.1, using: &generator, invertKernel: true)
    let good = DriftStreams.examples(10_000, rate: 0.1, using: &generator)
    let harm = DriftStreams.feed(&monitor, examples: inverted + good).filter {
      $0.detector == .harm
    }
    #expect(harm.map(\.transition) == [.fired, .cleared])
    // Harm clears when the guard shows no harm again on a window scored entirely after the
    // last harm verdict (the calibrated kernel beats the noisy backbone): the inverted examples
    // leave the window by 5000, harm verdicts stop before that, and a whole window must follow
    // the last of them.
    let cleared = harm.last?.examplesSeen ?? 0
    #expect(cleared > 3000 + 2 * 2000)
    #expect(cleared <= 3000 + 3 * 2000)
    #expect(monitor.isHealthy)
    #expect(monitor.isServing)
  }

  @Test func flippedLabelsAreDataDriftNotHarm() {
    var generator = SeededGenerator(seed: 15)
    var monitor = DomainDriftMonitor(domain: "d", settings: DriftSettings())
    // The kernel predicts exactly what the backbone predicts: it cannot hurt.
    var examples: [DriftExample] = []
    for index in 0..<20_000 {
      examples.append(
        DriftStreams.example(
          rate: 0.1, using: &generator, backboneNoise: 0, flipLabel: index >= 10_000))
    }
    let events = DriftStreams.feed(&monitor, examples: examples)
    let fired = events.filter { $0.transition == .fired }
    #expect(Set(fired.map(\.detector)) == [.loglossDrift, .ctrDrift])
    #expect(fired.allSatisfy { $0.examplesSeen > 10_000 && $0.examplesSeen <= 10_200 })
  }
}
