import Checkpoint
import Testing

@testable import Learner

@Suite struct DriftStateTests {
  /// A stream exercising every detector: collapse, harm, click-rate and logloss drift, a kernel
  /// reset, invalid values; one observation per batch of 32 examples.
  static func eventfulObservations() -> [DriftObservation] {
    var generator = SeededGenerator(seed: 77)
    var observations: [DriftObservation] = []
    var step = 0
    for batch in 0..<700 {
      let inverted = (300..<380).contains(batch)
      let rate = batch < 450 ? 0.1 : 0.4
      var examples = DriftStreams.examples(
        32, rate: rate, using: &generator, invertKernel: inverted)
      if batch == 100 { examples[3] = DriftExample(kernelLoss: .nan, backboneLoss: 0, label: 0) }
      step = batch == 500 ? 0 : step + 3
      observations.append(
        DriftObservation(
          step: step, eventTimeMs: 883_612_800_000 + Int64(batch) * 60_000,
          kernelVersion: batch / 50, activeUnits: batch % 7 == 0 ? 0 : 2,
          relativeDecoderNorm: (150..<260).contains(batch) ? 0 : 0.04,
          muVariance: batch == 142 ? .nan : 0.02, meanKL: 1.5, examples: examples))
    }
    return observations
  }

  @Test(arguments: [1, 120, 333, 501, 699])
  func snapshotRoundTripContinuesBitForBit(split: Int) throws {
    let observations = Self.eventfulObservations()
    let settings = DriftSettings()
    var uninterrupted = DriftMonitor(settings: settings)
    var expected: [DriftEvent] = []
    for (index, observation) in observations.enumerated() {
      let domain = index % 3 == 0 ? "1998-01/9" : "1998-01/0"
      let events = uninterrupted.observe(observation, of: domain)
      if index >= split { expected += events }
    }
    #expect(Set(expected.map(\.detector)).count >= 3 || split > 500)

    var first = DriftMonitor(settings: settings)
    for (index, observation) in observations.enumerated().prefix(split) {
      _ = first.observe(observation, of: index % 3 == 0 ? "1998-01/9" : "1998-01/0")
    }
    var file = SafeTensors(metadata: ["kind": "snapshot"])
    file.tensors = first.stateTensors()
    let bytes = file.encoded()
    var resumed = try DriftMonitor(
      settings: settings, stateTensors: try SafeTensors.decode(bytes).tensors)
    let restoredExactly = resumed == first
    #expect(restoredExactly, "the restored monitor differs from the one saved")
    var actual: [DriftEvent] = []
    for (index, observation) in observations.enumerated().dropFirst(split) {
      actual += resumed.observe(observation, of: index % 3 == 0 ? "1998-01/9" : "1998-01/0")
    }
    #expect(actual == expected)
    let continuedExactly = resumed == uninterrupted
    #expect(continuedExactly, "the resumed monitor differs from the uninterrupted one")
    #expect(resumed.stateTensors() == uninterrupted.stateTensors())
  }

  @Test func theEventfulStreamExercisesEveryKindOfState() {
    var monitor = DriftMonitor(settings: DriftSettings())
    var detectors: Set<DriftDetector> = []
    for observation in Self.eventfulObservations() {
      detectors.formUnion(monitor.observe(observation, of: "d").map(\.detector))
    }
    #expect(detectors.isSuperset(of: [.collapse, .identity, .harm, .ctrDrift, .loglossDrift]))
    let domain = try! #require(monitor.monitor(of: "d"))
    #expect(domain.invalidExamples == 1)
    #expect(domain.invalidValues == 1)
  }

  @Test func otherTensorsAreIgnoredAndDomainsWithSlashesSurvive() throws {
    var monitor = DriftMonitor(settings: DriftSettings())
    _ = monitor.observe(DriftStreams.healthy(step: 5), of: "2026-11/eu/west")
    var tensors = monitor.stateTensors()
    tensors["2026-11/eu/west/encoder.weight"] = Tensor(floats: [1, 2], shape: [2])
    let restored = try DriftMonitor(settings: DriftSettings(), stateTensors: tensors)
    #expect(restored.domains == ["2026-11/eu/west"])
    #expect(restored.monitor(of: "2026-11/eu/west")?.lastStep == 5)
  }

  @Test func aSmallerHarmWindowKeepsTheNewestExamples() throws {
    var generator = SeededGenerator(seed: 8)
    var monitor = DomainDriftMonitor(domain: "d", settings: DriftSettings(harmWindow: 100))
    let examples = DriftStreams.examples(250, rate: 0.3, using: &generator)
    _ = DriftStreams.feed(&monitor, examples: examples)
    let restored = try DomainDriftMonitor(
      domain: "d", settings: DriftSettings(harmWindow: 40), stateTensors: monitor.stateTensors())
    #expect(restored.relevanceWindow.examples == Array(examples.suffix(40)))
    let larger = try DomainDriftMonitor(
      domain: "d", settings: DriftSettings(harmWindow: 500), stateTensors: monitor.stateTensors())
    #expect(larger.relevanceWindow.examples == Array(examples.suffix(100)))
  }

  @Test func missingOrMalformedTensorsAreNamed() {
    var monitor = DriftMonitor(settings: DriftSettings())
    _ = monitor.observe(DriftStreams.healthy(step: 5), of: "d")
    var missing = monitor.stateTensors()
    missing["d/drift.state.harm"] = nil
    #expect(throws: DriftStateError.self) {
      try DriftMonitor(settings: DriftSettings(), stateTensors: missing)
    }
    do {
      _ = try DriftMonitor(settings: DriftSettings(), stateTensors: missing)
    } catch {
      #expect(error.message.contains("'d/drift.state.harm' is missing"))
    }
    var wrongType = monitor.stateTensors()
    wrongType["d/drift.page_hinkley"] = Tensor(
      floats: [Float](repeating: 0, count: 12), shape: [12])
    do {
      _ = try DriftMonitor(settings: DriftSettings(), stateTensors: wrongType)
      Issue.record("a float32 Page-Hinkley tensor was accepted")
    } catch {
      #expect(error.message.contains("is F32, expected F64"))
    }
    var impossible = monitor.stateTensors()
    impossible["d/drift.counters"] = Tensor(
      int64s: [1, 5, 0, 0, 0, 0, 2000, 7, 3, 0, 0], shape: [11])
    do {
      _ = try DriftMonitor(settings: DriftSettings(), stateTensors: impossible)
      Issue.record("an impossible relevance window was accepted")
    } catch {
      #expect(error.message.contains("impossible relevance window"))
    }
  }
}

extension DriftStateTests {
  @Test func collapseFollowsChangedCollapseSignalsAfterARestore() throws {
    var monitor = DomainDriftMonitor(domain: "d", settings: DriftSettings())
    for step in 0...400 {
      _ = monitor.observe(
        DriftObservation(
          step: step, eventTimeMs: 0, kernelVersion: 1, activeUnits: 2, relativeDecoderNorm: 0,
          muVariance: 0.01, meanKL: 1, examples: []))
    }
    #expect(monitor.isFiring(.collapse))
    var restored = try DomainDriftMonitor(
      domain: "d", settings: DriftSettings(collapseSignals: [.constantZ]),
      stateTensors: monitor.stateTensors())
    let events = restored.observe(DriftStreams.healthy(step: 401))
    // identity still fires (it was healthy for 1 step only) but no longer counts as collapse.
    #expect(events.map(\.detector) == [.collapse])
    #expect(events.first?.cause == nil)
    #expect(restored.isFiring(.identity))
    #expect(events.last?.transition == .cleared)
    #expect(!restored.isFiring(.collapse))
  }
}
