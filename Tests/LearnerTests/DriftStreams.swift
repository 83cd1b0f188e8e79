import Base
import Foundation

@testable import Learner

/// Base's SplitMix64 with the draws reproducible synthetic streams need.
struct SeededGenerator: RandomNumberGenerator {
  var random: SplitMix64

  init(seed: UInt64) { random = SplitMix64(seed: seed) }

  mutating func next() -> UInt64 { random.next() }

  /// Uniform in [0, 1).
  mutating func uniform() -> Double { Double(next() >> 11) / Double(1 << 53) }

  /// Standard normal (Box-Muller).
  mutating func gaussian() -> Double {
    let u = max(uniform(), 1e-300)
    let v = uniform()
    return (-2 * log(u)).squareRoot() * cos(2 * Double.pi * v)
  }
}

/// Synthetic scored examples and observations for the drift tests.
enum DriftStreams {
  static func logit(_ p: Double) -> Double { log(p / (1 - p)) }
  static func sigmoid(_ x: Double) -> Double { 1 / (1 + exp(-x)) }

  /// Cross-entropy of predicting `p` for `label`, in nats.
  static func loss(_ p: Double, _ label: Double) -> Double {
    -(label * log(p) + (1 - label) * log(1 - p))
  }

  /// One example around click rate `rate`: the true click probability has a logit spread of 1
  /// around it, the label is drawn from it, the kernel predicts it exactly (calibrated), and the
  /// backbone predicts it with extra logit noise of `backboneNoise`. With `invertKernel` the
  /// kernel predicts `1 - p`; with `flipLabel` the label is inverted after drawing.
  static func example(
    rate: Double, using generator: inout SeededGenerator, backboneNoise: Double = 0.3,
    invertKernel: Bool = false, flipLabel: Bool = false
  ) -> DriftExample {
    let trueLogit = logit(rate) + generator.gaussian()
    let p = sigmoid(trueLogit)
    var label: Double = generator.uniform() < p ? 1 : 0
    if flipLabel { label = 1 - label }
    let backbone = sigmoid(trueLogit + backboneNoise * generator.gaussian())
    let kernel = invertKernel ? 1 - p : p
    return DriftExample(
      kernelLogit: Float(logit(kernel)), backboneLogit: Float(logit(backbone)),
      label: Float(label))
  }

  /// An observation of a healthy kernel (proxies far from every threshold) at `step`.
  static func healthy(step: Int, examples: [DriftExample] = [], version: Int = 1)
    -> DriftObservation
  {
    DriftObservation(
      step: step, eventTimeMs: Int64(step) * 1000, kernelVersion: version, activeUnits: 3,
      relativeDecoderNorm: 0.05, muVariance: 0.01, meanKL: 2, examples: examples)
  }

  /// Feeds `examples` in batches of `batchSize`, one healthy-kernel observation per batch at
  /// steps `firstStep, firstStep + 1, ...`; returns every event.
  static func feed(
    _ monitor: inout DomainDriftMonitor, examples: [DriftExample], batchSize: Int = 32,
    firstStep: Int = 1000
  ) -> [DriftEvent] {
    var events: [DriftEvent] = []
    var step = firstStep
    var start = 0
    while start < examples.count {
      let end = min(start + batchSize, examples.count)
      events += monitor.observe(healthy(step: step, examples: Array(examples[start..<end])))
      start = end
      step += 1
    }
    return events
  }

  /// `count` examples around click rate `rate` (see `example`).
  static func examples(
    _ count: Int, rate: Double, using generator: inout SeededGenerator,
    invertKernel: Bool = false, flipLabel: Bool = false
  ) -> [DriftExample] {
    (0..<count).map { _ in
      example(
        rate: rate, using: &generator, invertKernel: invertKernel, flipLabel: flipLabel)
    }
  }
}
