import Checkpoint
import Foundation
import Testing

@testable import Learner

/// The serving guard's confirmation of a first pass (against the winner's curse of
/// docs/served-analysis.md).
@Suite struct ServingGuardConfirmationTests {
  /// A kernel slightly worse than the backbone (its logits carry 10% more noise around the same
  /// truth) at 50% click rate, seeded so that it passes the guard's second comparison (its first
  /// 250 examples) by chance, as the MovieLens kernels did (z 2.3-2.8 after 200-650 examples).
  static func luckyWorseKernel(_ count: Int) -> [DriftExample] {
    var generator = SeededGenerator(seed: 99)
    return (0..<count).map { _ in
      let truth = generator.gaussian()
      let label: Float = generator.uniform() < 1 / (1 + exp(-truth)) ? 1 : 0
      let kernel = truth + 1.1 * generator.gaussian()
      let backbone = truth + generator.gaussian()
      return DriftExample(kernelLogit: Float(kernel), backboneLogit: Float(backbone), label: label)
    }
  }

  @Test func aWorseKernelThatPassesAnEarlyCheckByChanceNeverServes() throws {
    let stream = Self.luckyWorseKernel(3000)
    let settings = ServingGuard.Settings()
    // Its first 250 examples pass the on rule: one pass used to be enough to serve, and the
    // kernel then kept serving until it was significantly worse (not within these examples).
    let early = try #require(
      PairedComparison(
        kernel: stream.prefix(250).map { $0.logits!.kernel },
        backbone: stream.prefix(250).map { $0.logits!.backbone },
        labels: stream.prefix(250).map { $0.label >= 0.5 }))
    #expect(
      early.showsNoHarm(
        z: settings.onZ, aucMargin: settings.aucMargin, logLossMargin: settings.logLossMargin))
    // On the examples after it, it is as good as it really is, and is never confirmed.
    var guardian = ServingGuard(settings: settings)
    var served = 0
    for example in stream {
      if guardian.isServing { served += 1 }
      _ = guardian.append(
        kernelLogit: example.logits!.kernel, backboneLogit: example.logits!.backbone,
        isPositive: example.label >= 0.5)
    }
    #expect(served == 0, "served \(served) of \(stream.count) examples")
    #expect(!guardian.isServing)
  }

  @Test func aFirstPassWaitsForMinExamplesAfterItAndAHelpingKernelIsConfirmed() {
    var generator = SeededGenerator(seed: 4)
    var guardian = ServingGuard()
    var firstPass: Int?
    var servedAt: Int?
    for index in 1...3000 {
      let example = DriftStreams.example(rate: 0.3, using: &generator, backboneNoise: 1)
      _ = guardian.append(
        kernelLogit: example.logits!.kernel, backboneLogit: example.logits!.backbone,
        isPositive: example.label >= 0.5)
      if firstPass == nil, guardian.examplesSincePass != nil { firstPass = index }
      if servedAt == nil, guardian.isServing { servedAt = index }
    }
    let pass = try! #require(firstPass)
    let serving = try! #require(servedAt)
    #expect(serving >= pass + guardian.settings.minExamples)
    #expect(guardian.examplesSincePass == nil)
    #expect(guardian.isServing)
  }

  /// The guard keeps each example's log losses beside its logits, computed once; every check
  /// must still be the comparison of its window from scratch, also once the ring has wrapped
  /// and after a restore from a wrapped ring (whose losses are computed again).
  @Test func everyCheckIsTheComparisonOfItsWindowFromScratch() throws {
    let stream = Self.luckyWorseKernel(5000)
    let settings = ServingGuard.Settings(window: 700, minExamples: 100, checkEvery: 37)
    var guardian = ServingGuard(settings: settings)
    var checks = 0
    for (index, example) in stream.enumerated() {
      if index == 2600 {
        var restored = ServingGuard(settings: settings)
        let (kernel, backbone, labels) = guardian.examples
        restored.restore(
          slots: zip(zip(kernel, backbone), labels).flatMap { [$0.0, $0.1, $1 ? 1 : 0] })
        #expect(restored.examples == guardian.examples)
        restored.sinceCheck = guardian.sinceCheck
        guardian = restored
      }
      let verdict = guardian.append(
        kernelLogit: example.logits!.kernel, backboneLogit: example.logits!.backbone,
        isPositive: example.label >= 0.5)
      guard verdict != nil else { continue }
      checks += 1
      let (kernel, backbone, labels) = guardian.examples
      #expect(kernel.count == 700 || index < 700)
      #expect(
        guardian.lastComparison
          == PairedComparison(kernel: kernel, backbone: backbone, labels: labels),
        "check \(checks) at example \(index)")
    }
    #expect(checks == (5000 - 100) / 37 + 1)
  }

  @Test func aPassAwaitingItsConfirmationSurvivesASnapshotAndOlderSnapshotsLoad() throws {
    let stream = Self.luckyWorseKernel(1200)
    var monitor = DomainDriftMonitor(domain: "d", settings: DriftSettings())
    _ = DriftStreams.feed(&monitor, examples: Array(stream.prefix(300)))
    #expect(monitor.guardState.examplesSincePass == 50)
    let tensors = monitor.stateTensors()
    var restored = try DomainDriftMonitor(
      domain: "d", settings: DriftSettings(), stateTensors: tensors)
    #expect(restored == monitor)
    let rest = Array(stream.dropFirst(300))
    #expect(
      DriftStreams.feed(&restored, examples: rest, firstStep: 1010)
        == DriftStreams.feed(&monitor, examples: rest, firstStep: 1010))
    #expect(restored == monitor)

    // A snapshot written before the confirmation holds four guard counters: no pass awaits.
    var legacy = tensors
    let name = DomainDriftMonitor.StateTensor.guardCounters
    legacy[name] = Tensor(int64s: Array(try tensors[name]!.int64s().prefix(4)), shape: [4])
    let old = try DomainDriftMonitor(domain: "d", settings: DriftSettings(), stateTensors: legacy)
    #expect(old.guardState.examplesSincePass == nil)
    #expect(old.guardState.count == 300)
    #expect(!old.guardState.isServing)
    var impossible = tensors
    impossible[name] = Tensor(int64s: [0, 0, 0, .min, -3], shape: [5])
    #expect(throws: DriftStateError.self) {
      try DomainDriftMonitor(domain: "d", settings: DriftSettings(), stateTensors: impossible)
    }
  }
}
