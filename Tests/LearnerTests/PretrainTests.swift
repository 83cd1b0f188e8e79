import Foundation
import Testing

@testable import Learner

@Suite struct PretrainTests {
  /// Items 0-9 are liked by users u0-u9 with an even index and disliked otherwise; numeric
  /// "price" adds a monotone effect. The backbone must learn the interaction.
  static func synthetic(count: Int) -> [Example] {
    var random = NoiseGenerator(state: 31)
    return (0..<count).map { index in
      let user = random.nextInt(below: 10)
      let item = random.nextInt(below: 10)
      let price = Float(random.nextUniform() * 100)
      let likes = (user + item) % 2 == 0
      let rate = (likes ? 0.8 : 0.2) * (price < 50 ? 1 : 0.7)
      return Example(
        domain: "d", categorical: ["u\(user)", "i\(item)"], numeric: [price],
        label: random.nextUniform() < rate ? 1 : 0, eventTimeMs: Int64(index))
    }
  }

  @Test func pretrainingLearnsAnInteractionAndReportsProgress() throws {
    var progress: [PretrainProgress] = []
    let (backbone, report) = try Pretrainer.train(
      examples: Self.synthetic(count: 6000),
      backbone: BackboneConfig(
        fields: ["user", "item"], numericFields: ["price"], buckets: 128, embeddingDim: 8,
        hiddenSizes: [16, 8]),
      config: PretrainConfig(epochs: 4, batchSize: 32, seed: 3, validationFraction: 0.2),
      progress: { progress.append($0) })
    // The epochs are chosen on the held-out 1,200, then every example trains a fresh backbone.
    #expect(report.validationExamples == 1200)
    #expect(report.isRefitted)
    #expect(report.trainingExamples == 6000)
    #expect((1...4).contains(report.chosenEpochs))
    #expect((report.validationAUC ?? 0) > 0.75)
    #expect(report.validationAUCByEpoch.count == 4)
    #expect(report.validationAUC == report.validationAUCByEpoch[report.chosenEpochs - 1])
    let selection = progress.filter { !$0.isRefit }
    let refit = progress.filter(\.isRefit)
    #expect(selection.last?.examplesDone == 4 * 4800)
    #expect(selection.last?.examplesTotal == 4 * 4800)
    #expect(refit.last?.examplesDone == report.chosenEpochs * 6000)
    #expect(refit.last?.examplesTotal == report.chosenEpochs * 6000)
    for phase in [selection, refit] {
      #expect(zip(phase, phase.dropFirst()).allSatisfy { $0.examplesDone < $1.examplesDone })
    }
    #expect(abs(backbone.numericMean[0] - 50) < 3)
  }

  @Test func theHeldOutTailChoosesTheEpochsAndWithoutRefitTheBestEpochIsReturned() throws {
    let examples = Self.synthetic(count: 3000)
    let shape = BackboneConfig(
      fields: ["user", "item"], numericFields: ["price"], buckets: 128, embeddingDim: 8,
      hiddenSizes: [16, 8])
    // A high learning rate overfits after a few epochs, so the best epoch is not the last.
    let config = PretrainConfig(
      epochs: 8, learningRate: 0.02, batchSize: 16, seed: 5, validationFraction: 0.3,
      refit: false)
    let (backbone, report) = try Pretrainer.train(
      examples: examples, backbone: shape, config: config)
    let aucs = report.validationAUCByEpoch.map { $0 ?? -1 }
    let best = try #require(aucs.max())
    #expect(report.chosenEpochs == aucs.firstIndex(of: best)! + 1)
    #expect(!report.isRefitted)
    #expect(report.trainingExamples == 2100)
    // The returned backbone is that epoch's: its AUC on the tail is the reported one.
    let tail = Array(examples[2100...])
    #expect(Pretrainer.evaluate(backbone, on: tail).auc == report.validationAUC)
    // Refitting trains another backbone, on every example, for the same epochs.
    var refitConfig = config
    refitConfig.refit = true
    let (refitted, refitReport) = try Pretrainer.train(
      examples: examples, backbone: shape, config: refitConfig)
    #expect(refitReport.chosenEpochs == report.chosenEpochs)
    #expect(refitReport.validationAUC == report.validationAUC)
    #expect(refitReport.trainingExamples == 3000)
    #expect(refitted.weightsSHA256 != backbone.weightsSHA256)
  }

  @Test func tooFewExamplesIsAnErrorThatSaysWhatToDo() {
    #expect {
      try Pretrainer.train(
        examples: [], backbone: BackboneConfig(fields: ["a"]), config: PretrainConfig())
    } throws: { error in
      "\(error)".contains("backbone.validation_fraction")
    }
  }

  @Test(.enabled(if: MovieLens.isAvailable))
  func pretrainingOnMovieLens1997ReachesFactorisationLevelAUC() throws {
    let all = try MovieLens.examples()
    let before1998 = all.filter { $0.eventTimeMs < MovieLens.cutoffSeconds * 1000 }
    var updates = 0
    let start = Date()
    let (backbone, report) = try Pretrainer.train(
      examples: before1998, backbone: MovieLens.backboneConfig(),
      config: PretrainConfig(epochs: 3), progress: { _ in updates += 1 })
    print(
      "MovieLens pretrain: \(report.trainingExamples) train, \(report.validationExamples) "
        + "validation, AUC by epoch \(report.validationAUCByEpoch), final AUC "
        + "\(report.validationAUC ?? .nan), logloss \(report.validationLogLoss ?? .nan), "
        + "\(Date().timeIntervalSince(start)) s, model.safetensors sha256 \(backbone.weightsSHA256)"
    )
    #expect(updates > 0)
    #expect((report.validationAUC ?? 0) > 0.745)
  }
}
