import Foundation
import Testing

@testable import Learner

/// The reference experiment of DESIGN.md on MovieLens: backbone pretrained on 1997, kernels per
/// month x zip-region domain trained on the 1998 ratings, each rating scored twice: at serving
/// time (when it arrives, by the kernel as it then stands, before its batch trains) and at
/// training time (prequentially, when its batch closes). Prints the figures.
@Suite struct MovieLensStreamTests {
  /// The figures of one run: training-time (prequential) AUCs and the serving-time comparison.
  struct Run {
    var adaptedAUC: Double
    var backboneAUC: Double
    var serving: PairedComparison
    var proxies: String

    var trainingGain: Double { adaptedAUC - backboneAUC }
  }

  static func run(
    backbone: Backbone, stream: [Example], mode: AdaptationMode, train: TrainConfig
  ) throws -> Run {
    var config = train
    config.mode = mode
    let trainer = try Trainer(backbone: backbone, kernelConfig: KernelConfig(), config: config)
    var adapted: [Float] = []
    var alone: [Float] = []
    var labels: [Float] = []
    var servingKernel: [Float] = []
    var servingBackbone: [Float] = []
    func collect(_ reports: [BatchReport]) {
      for report in reports {
        adapted += report.adaptedLogits
        alone += report.backboneLogits
        labels += report.labels
      }
    }
    for example in stream {
      let score = trainer.servingScore(for: example)
      servingKernel.append(score.kernelLogit)
      servingBackbone.append(score.backboneLogit)
      collect(trainer.process(example))
    }
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
    let serving = try #require(
      PairedComparison(
        kernel: servingKernel, backbone: servingBackbone, labels: stream.map { $0.label == 1 }))
    return Run(
      adaptedAUC: AreaUnderCurve.exact(scores: adapted, labels: labels) ?? .nan,
      backboneAUC: AreaUnderCurve.exact(scores: alone, labels: labels) ?? .nan,
      serving: serving, proxies: summary)
  }

  /// The control: within each month the examples are shuffled (a fixed seed) onto the month's
  /// event times, which keeps every domain's examples and label rate and breaks the order of
  /// users' sessions, the order a kernel can exploit only at training time.
  static func shuffledWithinMonths(_ stream: [Example]) -> [Example] {
    var random = SeededGenerator(seed: 1998)
    var result: [Example] = []
    var start = 0
    while start < stream.count {
      let month = stream[start].domain.prefix(7)
      var end = start
      while end < stream.count && stream[end].domain.prefix(7) == month { end += 1 }
      let times = stream[start..<end].map(\.eventTimeMs)
      var shuffled = Array(stream[start..<end])
      shuffled.shuffle(using: &random)
      for (index, time) in times.enumerated() { shuffled[index].eventTimeMs = time }
      result += shuffled
      start = end
    }
    return result
  }

  static func describe(_ name: String, _ run: Run) -> String {
    let serving = run.serving
    return
      "\(name): training-time AUC \(run.adaptedAUC) vs backbone \(run.backboneAUC) "
      + "(\(run.trainingGain * 100) points); serving-time AUC \(serving.kernelAUC) vs "
      + "\(serving.backboneAUC) (\(serving.aucDifference * 100) +- "
      + "\(1.96 * serving.aucStandardError * 100) points), log-loss gain \(serving.logLossGain) "
      + "+- \(1.96 * serving.logLossStandardError) nats"
  }

  @Test(.enabled(if: MovieLens.isAvailable, "run scripts/fetch-data first"))
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
    var runs: [AdaptationMode: Run] = [:]
    for mode in AdaptationMode.allCases {
      let run = try Self.run(backbone: backbone, stream: stream, mode: mode, train: train)
      runs[mode] = run
      if mode == .kernel { lines.append("kernel proxies: \(run.proxies)") }
      lines.append(Self.describe(mode.rawValue, run))
    }
    let shuffled = try Self.run(
      backbone: backbone, stream: Self.shuffledWithinMonths(stream), mode: .kernel, train: train)
    lines.append(Self.describe("kernel, shuffled within months", shuffled))
    print(lines.joined(separator: "\n"))

    let kernel = try #require(runs[.kernel])
    // Training time (prequential), the figure earlier results used: not worse than the
    // backbone by more than 1 AUC point (measured: +1.35 points).
    #expect(kernel.trainingGain > -0.01)
    // Serving time: kernels rank and predict better than the backbone beyond DeLong's paired
    // 95% interval (measured: AUC +1.35 +- 0.14 points, log loss +0.0148 +- 0.0013 nats)...
    #expect(Self.lowerBounds(kernel.serving).auc > 0, "\(kernel.serving)")
    #expect(Self.lowerBounds(kernel.serving).logLoss > 0, "\(kernel.serving)")
    // ...and still do with the months shuffled, so the gain is what a domain has in common,
    // not the order of users' sessions (measured: AUC +1.18 +- 0.14, log loss +0.0144 +-
    // 0.0013).
    #expect(Self.lowerBounds(shuffled.serving).auc > 0, "\(shuffled.serving)")
    #expect(Self.lowerBounds(shuffled.serving).logLoss > 0, "\(shuffled.serving)")
  }

  /// The lower ends of the two-sided 95% intervals of the AUC difference and the log-loss gain.
  static func lowerBounds(_ comparison: PairedComparison) -> (auc: Double, logLoss: Double) {
    (
      comparison.aucDifference - 1.96 * comparison.aucStandardError,
      comparison.logLossGain - 1.96 * comparison.logLossStandardError
    )
  }
}
