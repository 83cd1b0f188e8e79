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
    #expect(fired.examplesSeen <= 10_100, "a window of 2000 turns within a few dozen examples")
    #expect(fired.value < fired.threshold)
    #expect(fired.window == DriftWindow(length: 2000, unit: .examples))
    #expect(fired.domain == "1998-03/5")
    let logloss = events.filter { $0.detector == .loglossDrift && $0.transition == .fired }
    #expect(logloss.count == 1)
    #expect((logloss.first?.examplesSeen ?? 0) > 10_000)
    #expect((logloss.first?.examplesSeen ?? .max) <= 10_200)
    #expect(!events.contains { $0.examplesSeen <= 10_000 })
    #expect(!monitor.isHealthy)
  }

  @Test func harmWaitsForAFullWindow() {
    var generator = SeededGenerator(seed: 12)
    var monitor = DomainDriftMonitor(domain: "d", settings: DriftSettings())
    let inverted = DriftStreams.examples(3000, rate: 0.1, using: &generator, invertKernel: true)
    let harm = DriftStreams.feed(&monitor, examples: inverted).filter { $0.detector == .harm }
    #expect(harm.map(\.examplesSeen) == [2000])
  }

  @Test func harmWaitsForTheKernelsWarmUp() {
    var generator = SeededGenerator(seed: 13)
    var monitor = DomainDriftMonitor(domain: "d", settings: DriftSettings())
    let inverted = DriftStreams.examples(8000, rate: 0.1, using: &generator, invertKernel: true)
    // Batches of 32 at steps 0, 1, ...: step 200 starts at example 6401.
    let harm = DriftStreams.feed(&monitor, examples: inverted, firstStep: 0).filter {
      $0.detector == .harm
    }
    #expect(harm.map(\.examplesSeen) == [6401])
    #expect(harm.first?.step == 200)
  }

  @Test func harmClearsAfterAWindowWithoutHarm() {
    var generator = SeededGenerator(seed: 14)
    var monitor = DomainDriftMonitor(domain: "d", settings: DriftSettings())
    let inverted = DriftStreams.examples(3000, rate: 0.1, using: &generator, invertKernel: true)
    let good = DriftStreams.examples(10_000, rate: 0.1, using: &generator)
    let harm = DriftStreams.feed(&monitor, examples: inverted + good).filter {
      $0.detector == .harm
    }
    #expect(harm.map(\.transition) == [.fired, .cleared])
    // The window stops showing harm once most of it is good again; then 2000 more examples.
    let cleared = harm.last?.examplesSeen ?? 0
    #expect(cleared > 3000 + 2000)
    #expect(cleared < 3000 + 2 * 2000)
    #expect(monitor.isHealthy)
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
