import Foundation
import Testing

@testable import Learner

@Suite struct PretrainTests {
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
