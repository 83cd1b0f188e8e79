import Foundation
import Testing

@testable import Learner

/// The reference experiment of DESIGN.md on MovieLens: backbone pretrained on 1997, kernels per
/// month x zip-region domain trained prequentially on the 1998 ratings. Prints the figures.
@Suite struct MovieLensStreamTests {
  static func prequential(
    backbone: Backbone, stream: [Example], mode: AdaptationMode, train: TrainConfig
  ) throws -> (adapted: Double, backbone: Double, proxies: String) {
    var config = train
    config.mode = mode
    let trainer = try Trainer(backbone: backbone, kernelConfig: KernelConfig(), config: config)
    var adapted: [Float] = []
    var alone: [Float] = []
    var labels: [Float] = []
    func collect(_ reports: [BatchReport]) {
      for report in reports {
        adapted += report.adaptedLogits
        alone += report.backboneLogits
        labels += report.labels
      }
    }
    for example in stream { collect(trainer.process(example)) }
    collect(trainer.flush())
    let proxies = trainer.domains.compactMap { trainer.proxies(for: $0) }.filter {
      $0.batches > 0
    }
    let count = Double(max(1, proxies.count))
    let summary =
      "\(proxies.count) domains, mean active units "
      + "\(Double(proxies.map(\.activeUnits).reduce(0, +)) / count), mean E[KL] "
      + "\(proxies.map(\.meanKL).reduce(0, +) / count) nats, mean |delta|/|h| "
      + "\(proxies.map(\.relativeDecoderNorm).reduce(0, +) / count), mean relevance kernel "
      + "\(proxies.map(\.kernelRelevanceBits).reduce(0, +) / count) vs backbone "
      + "\(proxies.map(\.backboneRelevanceBits).reduce(0, +) / count) bits"
    return (
      AreaUnderCurve.exact(scores: adapted, labels: labels) ?? .nan,
      AreaUnderCurve.exact(scores: alone, labels: labels) ?? .nan, summary
    )
  }

  @Test(.enabled(if: MovieLens.isAvailable))
  func kernelsOn1998AreComparedWithTheBackbone() throws {
    let all = try MovieLens.examples()
    let cutoff = MovieLens.cutoffSeconds * 1000
    let (backbone, report) = try Pretrainer.train(
      examples: all.filter { $0.eventTimeMs < cutoff }, backbone: MovieLens.backboneConfig(),
      config: PretrainConfig())
    let stream = all.filter { $0.eventTimeMs >= cutoff }
    let train = TrainConfig()
    var lines = [
      "MovieLens 1998 stream: \(stream.count) examples; backbone validation AUC "
        + "\(report.validationAUC ?? .nan)"
    ]
    var kernelGain = 0.0
    for mode in AdaptationMode.allCases {
      let (adapted, alone, proxies) = try Self.prequential(
        backbone: backbone, stream: stream, mode: mode, train: train)
      if mode == .kernel {
        kernelGain = adapted - alone
        lines.append("kernel proxies: \(proxies)")
      }
      lines.append(
        "\(mode.rawValue): prequential AUC \(adapted) vs backbone \(alone) "
          + "(\((adapted - alone) * 100) points)")
    }
    print(lines.joined(separator: "\n"))
    #expect(kernelGain > -0.01)
  }
}
