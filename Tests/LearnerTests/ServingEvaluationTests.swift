import Base
import Foundation
import Testing

@testable import Learner

/// Serving-time evaluation in the learner: the paired comparison the guard rests on, and the
/// trainer's serving scores and meters.
@Suite struct ServingEvaluationTests {
  /// Positives P1, P2 and negatives N1, N2. Kernel: P1 0.9, P2 0.4, N1 0.5, N2 0.1; backbone:
  /// P1 0.8, P2 0.7, N1 0.6, N2 0.9 (logits; only their order matters for AUC).
  ///
  /// By hand: kernel V10 = [1, 0.5] (P1 beats both negatives, P2 only N2), V01 = [0.5, 1],
  /// AUC 0.75; backbone V10 = [0.5, 0.5], V01 = [1, 0], AUC 0.5. Differences over positives
  /// [0.5, 0]: sample variance 0.125; over negatives [-0.5, 1]: 1.125. DeLong's variance of the
  /// AUC difference = 0.125 / 2 + 1.125 / 2 = 0.625.
  @Test func delongMatchesAHandComputedCase() throws {
    let kernel: [Float] = [0.9, 0.4, 0.5, 0.1]
    let backbone: [Float] = [0.8, 0.7, 0.6, 0.9]
    let labels = [true, true, false, false]
    let comparison = try #require(
      PairedComparison(kernel: kernel, backbone: backbone, labels: labels))
    #expect(comparison.kernelAUC == 0.75)
    #expect(comparison.backboneAUC == 0.5)
    #expect(comparison.aucDifference == 0.25)
    #expect(abs(comparison.aucStandardError - 0.625.squareRoot()) < 1e-12)
    // Log losses from their definition, per example, and the paired standard error.
    func loss(_ logit: Float, _ positive: Bool) -> Double {
      let p = 1 / (1 + exp(-Double(logit)))
      return positive ? -log(p) : -log(1 - p)
    }
    let differences = (0..<4).map {
      loss(backbone[$0], labels[$0]) - loss(kernel[$0], labels[$0])
    }
    let mean = differences.reduce(0, +) / 4
    let variance = differences.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / 3
    #expect(abs(comparison.logLossGain - mean) < 1e-6)
    #expect(abs(comparison.logLossStandardError - (variance / 4).squareRoot()) < 1e-6)
    #expect(abs(comparison.labelEntropy - log(2)) < 1e-12)
  }

  @Test func structuralComponentsEqualAPairByPairCountOfTheBins() {
    // Logits inside the binned range, beyond it at both ends, and ties within one bin.
    var random = NoiseGenerator(state: 11)
    var scores = (0..<300).map { _ in Float(random.nextUniform() * 12 - 8) }
    scores += [-40, -16, 15.999, 16, 40, 0.001, 0.002, -Float.infinity, .infinity]
    let labels = scores.indices.map { $0 % 3 == 0 || $0 >= 300 && $0 % 2 == 0 }
    let parts = PairedComparison.structuralComponents(scores: scores, labels: labels)
    let bins = scores.map(PairedComparison.bin)
    let positives = scores.indices.filter { labels[$0] }
    let negatives = scores.indices.filter { !labels[$0] }
    func share(_ count: (Int) -> Double, over others: [Int]) -> Double {
      others.reduce(0) { $0 + count($1) } / Double(others.count)
    }
    let expectedPositives = positives.map { i in
      share({ bins[$0] < bins[i] ? 1 : bins[$0] == bins[i] ? 0.5 : 0 }, over: negatives)
    }
    let expectedNegatives = negatives.map { j in
      share({ bins[$0] > bins[j] ? 1 : bins[$0] == bins[j] ? 0.5 : 0 }, over: positives)
    }
    #expect(parts.positives.count == positives.count)
    #expect(parts.negatives.count == negatives.count)
    for (got, want) in zip(parts.positives, expectedPositives) { #expect(abs(got - want) < 1e-12) }
    for (got, want) in zip(parts.negatives, expectedNegatives) { #expect(abs(got - want) < 1e-12) }
  }

  @Test func tiedScoresCountHalfAndNeedBothClasses() throws {
    let tied = try #require(
      PairedComparison(
        kernel: [1, 1, 1, 1], backbone: [0, 1, 1, 0], labels: [true, false, true, false]))
    #expect(tied.kernelAUC == 0.5)
    #expect(tied.backboneAUC == 0.5)
    #expect(
      PairedComparison(kernel: [1, 2, 3], backbone: [1, 2, 3], labels: [true, true, false])
        == nil)
  }

  @Test func aKernelEqualToTheBackboneShowsNoHarmAndNoGain() throws {
    var random = NoiseGenerator(state: 5)
    let logits = (0..<500).map { _ in Float(random.nextUniform() * 4 - 2) }
    let labels = logits.map { _ in random.nextUniform() < 0.3 }
    let comparison = try #require(
      PairedComparison(kernel: logits, backbone: logits, labels: labels))
    #expect(comparison.aucDifference == 0)
    #expect(comparison.aucStandardError == 0)
    #expect(!comparison.showsHarm(z: 2.326))
    #expect(comparison.showsNoHarm(z: 1.645, aucMargin: 0, logLossMargin: 0))
  }

  @Test func theGuardStaysInShadowWithoutEnoughClicksAndRestartsInShadow() {
    var guardian = ServingGuard(settings: ServingGuard.Settings(minPerClass: 10))
    // A kernel that ranks perfectly, but only 5 clicks in 1,000 examples: no decision.
    for index in 0..<1000 {
      let positive = index % 200 == 0
      _ = guardian.append(
        kernelLogit: positive ? 3 : -3, backboneLogit: 0, isPositive: positive)
    }
    #expect(!guardian.isServing)
    #expect(guardian.lastComparison == nil)
    for index in 0..<1000 {
      let positive = index % 20 == 0
      _ = guardian.append(
        kernelLogit: positive ? 3 : -3, backboneLogit: Float(index % 7) - 3, isPositive: positive)
    }
    #expect(guardian.isServing)
    guardian.restart()
    #expect(!guardian.isServing)
    #expect(guardian.count == 0)
  }

  @Test func servingScoresAreTheBackbonesForANewDomainAndChangeNothing() throws {
    let trainer = try TrainerTests.makeTrainer()
    let stream = TrainerTests.stream(count: 200, seed: 3)
    for example in stream { _ = trainer.process(example) }
    let before = TrainerTests.stateBytes(trainer)
    let fresh = Example(domain: "new", categorical: ["u1", "i2"], label: 0, eventTimeMs: 0)
    let score = trainer.servingScore(for: fresh)
    #expect(score.kernelLogit == score.backboneLogit)
    let known = trainer.servingScore(
      for: Example(
        domain: "hot", categorical: ["u1", "i2"], label: 0, eventTimeMs: 0))
    #expect(known.backboneLogit == score.backboneLogit)
    #expect(known.kernelLogit != known.backboneLogit, "the hot kernel has learned something")
    #expect(TrainerTests.stateBytes(trainer) == before, "scoring changes no state")
    // The kernel's score is the trainer's own scorer's (z = mu) on the same kernel.
    let scorer = try Scorer(
      backbone: trainer.backbone, kernelConfig: trainer.kernelConfig,
      kernels: ["hot": try #require(trainer.kernel(for: "hot"))])
    let probability = try #require(
      scorer.score([Example(domain: "hot", categorical: ["u1", "i2"], label: 0, eventTimeMs: 0)])
        .first)
    if probability.usedKernel {
      #expect(
        abs(Double(probability.probability) - 1 / (1 + exp(-Double(known.kernelLogit))))
          < 1e-6)
    }
  }

  @Test func servingScoresAreCountedWhenTheBatchClosesAndSurviveASnapshot() throws {
    let trainer = try TrainerTests.makeTrainer()
    var stream = TrainerTests.stream(count: 203, seed: 9)
    for index in stream.indices where index % 5 != 0 {
      stream[index].servingScore = ServingScore(
        backboneLogit: Float(index % 7) - 3, kernelLogit: Float(index % 5) - 2,
        servesKernel: index % 2 == 0)
    }
    for example in stream { _ = trainer.process(example) }
    _ = trainer.flush()
    var expectedServed = 0
    var expectedLoss = 0.0
    var scored = 0
    for example in stream where example.domain == "hot" {
      guard let score = example.servingScore else { continue }
      scored += 1
      if score.servesKernel { expectedServed += 1 }
      let p = 1 / (1 + exp(-Double(score.servedLogit)))
      expectedLoss += example.label == 1 ? -log(p) : -log(1 - p)
    }
    let evaluation = try #require(trainer.evaluation(for: "hot"))
    #expect(evaluation.servingKernel.count == scored)
    #expect(evaluation.unscored == stream.filter { $0.domain == "hot" }.count - scored)
    #expect(evaluation.servedByKernel == expectedServed)
    #expect(abs(try #require(evaluation.served.logLoss) - expectedLoss / Double(scored)) < 1e-5)

    // Pending examples keep their scores through a snapshot, and the meters come back equal.
    let open = try TrainerTests.makeTrainer()
    for example in stream.prefix(101) { _ = open.process(example) }
    #expect(open.pendingExamples(for: "hot").contains { $0.servingScore != nil })
    let restored = try TrainerTests.makeTrainer()
    try restored.restore(stateTensors: open.stateTensors())
    #expect(restored.pendingExamples(for: "hot") == open.pendingExamples(for: "hot"))
    #expect(restored.evaluation(for: "hot") == open.evaluation(for: "hot"))
    for example in stream.dropFirst(101) {
      #expect(restored.process(example) == open.process(example))
    }
    #expect(TrainerTests.stateBytes(restored) == TrainerTests.stateBytes(open))
  }
}

/// The serving guard at 0.5% click rate (a few clicks per window, the sparse log where kernels
/// learned the click level while ranking worse), with the shipped settings.
@Suite struct SparseGuardTests {
  @Test func aKernelThatRanksWorseNeverServesAndOneThatHelpsDoes() {
    let rows = GuardCalibration.run(streams: 2, rates: [0.005])
    let helps = rows.first { $0.scenario == "helps" }!
    let worse = rows.first { $0.scenario == "ranks worse" }!
    let turns = rows.first { $0.scenario == "turns harmful" }!
    #expect(helps.streamsServed == 2)
    #expect(helps.servedShare > 0.5)
    #expect(worse.streamsServed == 0, "a kernel that ranks worse must never serve")
    #expect(worse.servedShare == 0)
    // Serving, then harmful from the middle of the stream: switched off in every stream.
    #expect(turns.streamsServed == 2)
    #expect(turns.undetected == 0)
    #expect(turns.medianDetectionDelay != nil)
  }

  @Test func harmFiresWhenASparseKernelStartsRankingWorse() {
    // Through the drift monitor: the harm alert and the serving state it drives.
    var random = NoiseGenerator(state: 21)
    func gaussian() -> Double {
      let u = max(random.nextUniform(), 1e-300)
      return (-2 * log(u)).squareRoot() * cos(2 * Double.pi * random.nextUniform())
    }
    var monitor = DomainDriftMonitor(domain: "d", settings: DriftSettings())
    let base = log(0.005 / 0.995)
    var servedBeforeSwitch = false
    var events: [DriftEvent] = []
    var step = 1000
    for batch in 0..<4000 {
      let harmful = batch >= 2000
      var examples: [DriftExample] = []
      for _ in 0..<32 {
        let truth = base + gaussian()
        let label: Float = random.nextUniform() < 1 / (1 + exp(-truth)) ? 1 : 0
        let kernel =
          harmful ? base + 0.3 * (truth - base) + 1.2 * gaussian() : truth + 0.5 * gaussian()
        let backbone = harmful ? truth + 0.5 * gaussian() + 0.5 : truth + gaussian()
        examples.append(
          DriftExample(kernelLogit: Float(kernel), backboneLogit: Float(backbone), label: label))
      }
      events += monitor.observe(DriftStreams.healthy(step: step, examples: examples))
      step += 1
      if batch == 1999 { servedBeforeSwitch = monitor.isServing }
    }
    #expect(servedBeforeSwitch)
    #expect(!monitor.isServing)
    let harm = events.filter { $0.detector == .harm && $0.transition == .fired }
    #expect(harm.count >= 1)
    #expect(harm.allSatisfy { $0.examplesSeen > 2000 * 32 })
  }
}
