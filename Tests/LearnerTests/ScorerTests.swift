import Testing

@testable import Learner

@Suite struct ScorerTests {
  @Test func mixedBatchUsesActiveKernelsAndTheBackboneElsewhere() throws {
    let trainer = try TrainerTests.makeTrainer()
    for example in TrainerTests.stream(count: 800, seed: 11) { _ = trainer.process(example) }
    var kernels = trainer.kernels
    kernels["cold"]?.isActive = false
    let scorer = try Scorer(
      backbone: trainer.backbone, kernelConfig: trainer.kernelConfig, kernels: kernels,
      capacity: 7)
    var batch = TrainerTests.stream(count: 30, seed: 12)
    batch[3].domain = "unknown"
    let scores = scorer.score(batch)
    let backboneAlone = trainer.backbone.probabilities(for: batch)
    #expect(scores.count == batch.count)
    for (index, example) in batch.enumerated() {
      let score = scores[index]
      #expect(score.backboneProbability.bitPattern == backboneAlone[index].bitPattern)
      if example.domain == "hot" || example.domain == "warm" {
        #expect(score.usedKernel)
        // The same example scored alone through its kernel.
        let engine = KernelEngine(
          backbone: trainer.backbone, config: trainer.kernelConfig, capacity: 1)
        var kernel = kernels[example.domain]!
        engine.prepare([example])
        engine.score(with: &kernel)
        #expect(abs(score.probability - Logistic.sigmoid(engine.kernelLogits[0])) < 1e-6)
      } else {
        #expect(!score.usedKernel)
        #expect(score.probability.bitPattern == backboneAlone[index].bitPattern)
      }
    }
    #expect(scores.contains { $0.usedKernel && $0.probability != $0.backboneProbability })
  }

  @Test func kernelOfAnotherShapeIsRejected() throws {
    let trainer = try TrainerTests.makeTrainer()
    let other = IAKKernel(
      domain: "x", layout: KernelLayout(width: 3, encoderHidden: 0, bottleneck: 2), seed: 1)
    #expect(throws: LearnerError.self) {
      try Scorer(
        backbone: trainer.backbone, kernelConfig: trainer.kernelConfig, kernels: ["x": other])
    }
  }
}
