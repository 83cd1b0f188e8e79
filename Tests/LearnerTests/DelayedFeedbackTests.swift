import Base
import Foundation
import Observability
import Testing

@testable import Learner

/// The importance weighting of `label.mode = fake_negative | es_dfm` and the trainer's handling
/// of training copies and serving-time records.
@Suite struct DelayedFeedbackTests {
  @Test func importanceWeightsMatchAHandComputedCase() {
    // Fake-negative weighting, p = 0.2: a positive weighs 1 + p, a negative (1 + p)(1 - p).
    #expect(
      abs(DelayedFeedback.importanceWeight(label: 1, prediction: 0.2, delayedFraction: 1) - 1.2)
        < 1e-6)
    #expect(
      abs(DelayedFeedback.importanceWeight(label: 0, prediction: 0.2, delayedFraction: 1) - 0.96)
        < 1e-6)
    // ES-DFM, p = 0.2 and a quarter of clicks delayed: d = 0.05, a positive 1.05, a negative
    // 1.05 * 0.8 / 0.85 = 0.988235...
    #expect(
      abs(DelayedFeedback.importanceWeight(label: 1, prediction: 0.2, delayedFraction: 0.25) - 1.05)
        < 1e-6)
    #expect(
      abs(
        DelayedFeedback.importanceWeight(label: 0, prediction: 0.2, delayedFraction: 0.25)
          - 0.988_235_3) < 1e-6)
    // No click is ever delayed: the stream is unbiased, every weight 1.
    for label in [Float(0), 1] {
      #expect(
        DelayedFeedback.importanceWeight(label: label, prediction: 0.7, delayedFraction: 0) == 1)
    }
  }

  /// The expected weighted loss of a training copy in the biased stream equals the true labels'
  /// loss of an impression: checked exactly on one impression with click probability p (the
  /// stream's copies and their probabilities enumerated; it holds 1 + p f copies on average).
  @Test func weightedBiasedStreamEqualsTheTrueLoss() {
    let p = 0.3
    let f = 0.4
    let q = 0.55  // any model prediction: the identity holds for every loss of q
    let positiveLoss = -log(q)
    let negativeLoss = -log(1 - q)
    let trueLoss = p * positiveLoss + (1 - p) * negativeLoss
    // Copies per impression: a prompt positive (p(1-f)), a provisional negative then a delayed
    // positive (pf), a true negative (1-p).
    let wPositive = Double(
      DelayedFeedback.importanceWeight(label: 1, prediction: Float(p), delayedFraction: Float(f)))
    let wNegative = Double(
      DelayedFeedback.importanceWeight(label: 0, prediction: Float(p), delayedFraction: Float(f)))
    let biased =
      p * (1 - f) * wPositive * positiveLoss
      + p * f * (wNegative * negativeLoss + wPositive * positiveLoss)
      + (1 - p) * wNegative * negativeLoss
    #expect(abs(biased / (1 + p * f) - trueLoss) < 1e-6)
    // Unweighted, the fake negatives bias it.
    let unweighted =
      (p * positiveLoss + p * f * negativeLoss + (1 - p) * negativeLoss) / (1 + p * f)
    #expect(abs(unweighted - trueLoss) > 1e-3)
  }

  @Test func weightedLossAndGradientMatchAHandComputedCase() {
    // logits 0 and ln 3 (p 0.5 and 0.75), labels 1 and 0, weights 1.2 and 0.96.
    let logits: [Float] = [0, Float(log(3.0))]
    let labels: [Float] = [1, 0]
    let weights: [Float] = [1.2, 0.96]
    var gradients: [Float] = [0, 0]
    let loss = Logistic.weightedMeanLossGradient(
      logits: logits, labels: labels, weights: weights, rows: 2, into: &gradients)
    // (1.2 ln 2 + 0.96 ln 4) / 2
    #expect(abs(Double(loss) - (1.2 * log(2.0) + 0.96 * log(4.0)) / 2) < 1e-6)
    // 1.2 (0.5 - 1) / 2 and 0.96 (0.75 - 0) / 2
    #expect(abs(gradients[0] - -0.3) < 1e-6)
    #expect(abs(gradients[1] - 0.36) < 1e-6)
  }

  @Test func delayedFractionAndQuantilesFollowTheCounts() {
    var delays = ClickDelays()
    #expect(DelayedFeedback(windowMs: 60_000).delayedFraction(of: delays) == 0.5)
    #expect(DelayedFeedback(windowMs: 0).delayedFraction(of: delays) == 1)
    #expect(delays.delayQuantile(0.5) == nil && delays.fakeNegativeRate == nil)
    delays.provisional = 4
    for (delay, corrects) in [(500, false), (4_000, false), (4_500, false), (90_000, true)] {
      delays.recordClick(delayMs: Int64(delay), correctsProvisional: corrects)
    }
    // (1 delayed + 1) / (4 clicks + 2)
    #expect(abs(DelayedFeedback(windowMs: 60_000).delayedFraction(of: delays) - 2 / 6) < 1e-6)
    #expect(delays.fakeNegativeRate == 0.25)
    #expect(delays.delayQuantile(0.25) == 1)
    #expect(delays.delayQuantile(0.5) == 5)
    #expect(delays.delayQuantile(0.99) == 300)
  }

  static let config = BackboneConfig(
    fields: ["user", "item"], numericFields: [], buckets: 50, embeddingDim: 4,
    hiddenSizes: [6, 5], hashSeed: 7)

  static func trainer(weighted: Bool) throws -> Trainer {
    try Trainer(
      backbone: try Backbone(config: config, seed: 5),
      kernelConfig: KernelConfig(insertAt: .hidden(2), bottleneck: 3, encoderHidden: 0),
      config: TrainConfig(
        batchMax: 4, batchMaxWaitMs: 1_000, stepsPerBatch: 2, activationMinExamples: 1,
        delayedFeedback: weighted ? DelayedFeedback(windowMs: 0) : nil))
  }

  static func example(_ index: Int, _ label: Float, _ use: ExampleUse) -> Example {
    Example(
      domain: "d", categorical: ["u\(index % 3)", "i\(index % 5)"], label: label,
      eventTimeMs: Int64(index),
      servingScore: use.evaluates
        ? ServingScore(backboneLogit: Float(index) * 0.1, kernelLogit: 0, servesKernel: false)
        : nil, use: use, clickDelayMs: label > 0.5 ? 2_000 : nil,
      correctsProvisional: use == .train && label > 0.5)
  }

  @Test func servingRecordsAreCountedNotTrained() throws {
    let trainer = try Self.trainer(weighted: true)
    var reports: [BatchReport] = []
    // Two serving-time records, then four training copies: the batch closes full at the fourth
    // copy, with the records counted in the serving meters only.
    reports += trainer.process(Self.example(0, 1, .evaluate))
    reports += trainer.process(Self.example(1, 0, .evaluate))
    for index in 2..<6 {
      reports += trainer.process(Self.example(index, index == 3 ? 1 : 0, .train))
    }
    #expect(reports.count == 1)
    #expect(reports[0].size == 4 && reports[0].labels == [0, 1, 0, 0])
    #expect(reports[0].servingLabels == [1, 0])
    #expect(reports[0].servingScores.compactMap { $0?.backboneLogit } == [0, 0.1])
    let evaluation = try #require(trainer.evaluation(for: "d"))
    #expect(evaluation.adapted.count == 4 && evaluation.servingBackbone.count == 2)
    #expect(evaluation.unscored == 0)
    #expect(trainer.kernel(for: "d")?.examplesSeen == 4)
  }

  /// A drift reset keeps the open batch, its serving-time records and the click counts: the
  /// batch still closes at `train.batch_max` training rows.
  @Test func aKernelResetKeepsTheOpenBatchAndTheClickCounts() throws {
    let trainer = try Self.trainer(weighted: true)
    _ = trainer.process(Self.example(0, 0, .evaluate))
    _ = trainer.process(Self.example(1, 1, .train))
    _ = trainer.process(Self.example(2, 0, .train))
    #expect(trainer.resetKernel(of: "d"))
    #expect(trainer.pendingExamples(for: "d").count == 3)
    #expect(trainer.process(Self.example(3, 0, .train)).isEmpty)
    let reports = trainer.process(Self.example(4, 0, .train))
    #expect(reports.map(\.size) == [4] && reports.first?.servingLabels == [0])
    let tensors = trainer.stateTensors()
    #expect(try tensors["d/feedback.click_delays"]?.int64s().prefix(3) == [1, 1, 3])
  }

  @Test func clickDelaysAndFakeNegativeRateArePublishedPerDomain() throws {
    let trainer = try Self.trainer(weighted: true)
    // Four provisional negatives, one corrected by its click (2 s after the impression).
    for index in 0..<4 { _ = trainer.process(Self.example(index, 0, .train)) }
    _ = trainer.process(Self.example(4, 1, .train))
    let registry = MetricsRegistry()
    let metrics = LearnerMetrics(registry: registry)
    trainer.publish(to: metrics)
    #expect(metrics.fakeNegativeRate.with("d").value == 0.25)
    // The one click's delay bucket is (1 s, 5 s].
    for share in ["0.5", "0.9", "0.99"] {
      #expect(metrics.clickDelay.with("d", share).value == 5)
    }
    #expect(registry.render().contains("iak_domain_fake_negative_rate{domain=\"d\"} 0.25"))
  }

  @Test func weightingChangesTheKernelAndResumesExactly() throws {
    let stream = (0..<23).map { index -> Example in
      Self.example(index, index % 4 == 1 ? 1 : 0, index % 5 == 4 ? .evaluate : .train)
    }
    let weighted = try Self.trainer(weighted: true)
    let plain = try Self.trainer(weighted: false)
    for example in stream {
      _ = weighted.process(example)
      _ = plain.process(example)
    }
    let parameters = try #require(weighted.kernel(for: "d")?.parameters)
    #expect(parameters != plain.kernel(for: "d")?.parameters)

    // Stopped after 13 examples (an open batch with a serving record in it) and restored.
    let first = try Self.trainer(weighted: true)
    for example in stream.prefix(13) { _ = first.process(example) }
    #expect(first.pendingExamples(for: "d").contains { $0.use == .evaluate })
    let resumed = try Self.trainer(weighted: true)
    try resumed.restore(stateTensors: first.stateTensors())
    for example in stream.dropFirst(13) { _ = resumed.process(example) }
    #expect(resumed.kernel(for: "d")?.parameters == parameters)
    #expect(resumed.stateTensors() == weighted.stateTensors())
  }
}
