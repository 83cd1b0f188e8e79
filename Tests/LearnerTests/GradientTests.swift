import Foundation
import Testing

@testable import Learner

/// Finite-difference checks of every analytic gradient against a double-precision reference.
@Suite struct GradientTests {
  static let config = BackboneConfig(
    fields: ["user", "item", "zip"], numericFields: ["age"], buckets: 50, embeddingDim: 4,
    hiddenSizes: [6, 5], hashSeed: 7)

  static func examples(count: Int, seed: UInt64) -> [Example] {
    var random = NoiseGenerator(state: seed)
    return (0..<count).map { index in
      Example(
        domain: "d",
        categorical: [
          "u\(random.nextInt(below: 9))", "i\(random.nextInt(below: 7))",
          "z\(index % 3)",
        ], numeric: [Float(random.nextUniform() * 2)],
        label: random.nextUniform() < 0.4 ? 1 : 0, eventTimeMs: Int64(index))
    }
  }

  /// Central difference of `loss` with respect to one coordinate, in double precision.
  static func centralDifference(
    _ values: [Double], at index: Int, step: Double = 1e-6, loss: ([Double]) -> Double
  ) -> Double {
    var plus = values
    plus[index] += step
    var minus = values
    minus[index] -= step
    return (loss(plus) - loss(minus)) / (2 * step)
  }

  static func expectClose(_ analytic: Float, _ numeric: Double, _ what: String) {
    let tolerance = 1e-4 + 1e-2 * abs(numeric)
    #expect(abs(Double(analytic) - numeric) <= tolerance, "\(what): \(analytic) vs \(numeric)")
  }

  @Test func denseLayerGradientsMatchFiniteDifferences() throws {
    let backbone = try Backbone(config: Self.config, seed: 3)
    let workspace = BackboneWorkspace(config: Self.config, capacity: 8)
    let rows = backbone.embed(Self.examples(count: 8, seed: 11), into: workspace)
    backbone.forward(
      rows: rows, fromLevel: 0, input: workspace.activations[0], workspace: workspace)
    _ = Logistic.meanLossGradient(
      logits: workspace.logits, labels: workspace.labels, rows: rows,
      into: workspace.logitGradients)
    var gradient = [Float](repeating: 0, count: backbone.dense.count)
    gradient.withUnsafeMutableBufferPointer { buffer in
      backbone.backward(
        rows: rows, toLevel: 0, input: workspace.activations[0], workspace: workspace,
        gradient: buffer.baseAddress!)
    }
    let x0 = (0..<rows).map { row in
      (0..<Self.config.inputWidth).map {
        Double(workspace.activations[0][row * Self.config.inputWidth + $0])
      }
    }
    let labels = (0..<rows).map { Double(workspace.labels[$0]) }
    let dense = backbone.dense.map(Double.init)
    let loss: ([Double]) -> Double = { values in
      ReferenceModel.meanCrossEntropy(
        ReferenceModel.upperLogits(
          dense: values, layers: backbone.layers, fromLevel: 0, input: x0), labels)
    }
    for index in 0..<dense.count {
      Self.expectClose(
        gradient[index], Self.centralDifference(dense, at: index, loss: loss), "dense[\(index)]")
    }
    // The gradient with respect to x0 (what reaches the embeddings).
    for row in 0..<rows {
      for column in 0..<Self.config.inputWidth {
        var shifted = x0
        let numeric = Self.centralDifference(x0[row], at: column) { values in
          shifted[row] = values
          return ReferenceModel.meanCrossEntropy(
            ReferenceModel.upperLogits(
              dense: dense, layers: backbone.layers, fromLevel: 0, input: shifted), labels)
        }
        Self.expectClose(
          workspace.gradients[0][row * Self.config.inputWidth + column], numeric,
          "x0[\(row)][\(column)]")
      }
    }
  }

  static func checkKernelLoss(
    insertAt: InsertionPoint, encoderHidden: Int, delayedFraction: Float? = nil
  ) throws {
    let backbone = try Backbone(config: Self.config, seed: 5)
    let config = KernelConfig(
      insertAt: insertAt, bottleneck: 3, encoderHidden: encoderHidden, beta: 0.5,
      betaWarmupSteps: 0)
    let engine = KernelEngine(backbone: backbone, config: config, capacity: 6)
    var kernel = IAKKernel(domain: "d", backbone: Self.config, config: config, seed: 9)
    // A trained-looking kernel: a non-zero decoder so that every parameter gets a gradient.
    var random = NoiseGenerator(state: 77)
    for index in kernel.layout.decoderWeight..<kernel.layout.parameterCount {
      kernel.parameters[index] = Float(random.nextUniform() - 0.5)
    }
    var examples = Self.examples(count: 6, seed: 21)
    engine.prepare(examples)
    var weights: [Double]?
    if let delayedFraction {
      // The biased stream of a delayed-feedback mode: all but the last row are training copies.
      for row in 0..<5 { examples[row].use = .train }
      engine.score(with: &kernel)
      engine.weighLoss(of: examples, delayedFraction: delayedFraction)
      weights = (0..<6).map { row in
        guard row < 5 else { return 1 }
        let p = 1 / (1 + exp(-Double(engine.kernelLogits[row])))
        let d = p * Double(delayedFraction)
        return examples[row].label > 0.5 ? 1 + d : (1 + d) * (1 - p) / (1 - p + d)
      }
      #expect(weights!.contains { abs($0 - 1) > 0.01 })
    }
    let rows = engine.rows
    let (crossEntropy, kl) = engine.computeGradient(of: &kernel, beta: 0.5)
    let m = kernel.layout.width
    let k = kernel.layout.bottleneck
    let h = (0..<rows).map { row in (0..<m).map { Double(engine.representation[row * m + $0]) } }
    let eps = (0..<rows).map { row in
      (0..<k).map { Double(engine.kernelWorkspace.noise[row * k + $0]) }
    }
    let labels = (0..<rows).map { Double(engine.workspace.labels[$0]) }
    let dense = backbone.dense.map(Double.init)
    let parameters = kernel.parameters.map(Double.init)
    let loss: ([Double]) -> Double = { values in
      ReferenceModel.kernelLoss(
        kernel: values, layout: kernel.layout, dense: dense, layers: backbone.layers,
        level: insertAt.level, h: h, eps: eps, labels: labels, beta: 0.5, weights: weights)
    }
    let reference = loss(parameters)
    #expect(abs(Double(crossEntropy + 0.5 * kl) - reference) < 1e-4 + 1e-5 * reference)
    for index in 0..<parameters.count {
      Self.expectClose(
        engine.kernelWorkspace.gradient[index],
        Self.centralDifference(parameters, at: index, loss: loss), "kernel[\(index)]")
    }
  }

  @Test func kernelLossGradientAtHiddenLayerMatchesFiniteDifferences() throws {
    try Self.checkKernelLoss(insertAt: .hidden(1), encoderHidden: 0)
  }

  @Test func kernelLossGradientWithEncoderHiddenLayerMatchesFiniteDifferences() throws {
    try Self.checkKernelLoss(insertAt: .hidden(2), encoderHidden: 4)
  }

  @Test func kernelLossGradientAtEmbeddingMatchesFiniteDifferences() throws {
    try Self.checkKernelLoss(insertAt: .embedding, encoderHidden: 0)
  }

  /// Fake-negative weighting (every click delayed) and ES-DFM's (a quarter delayed): the
  /// importance-weighted loss's gradient, weights held constant.
  @Test(arguments: [Float(1), 0.25])
  func importanceWeightedKernelLossGradientMatchesFiniteDifferences(delayedFraction: Float)
    throws
  {
    try Self.checkKernelLoss(
      insertAt: .hidden(2), encoderHidden: 4, delayedFraction: delayedFraction)
  }
}

@Suite struct EmbeddingGradientTests {
  /// Adam's first step moves every parameter by -lr * sign(gradient); the embedding rows a batch
  /// touches (several examples share rows here) must move against the finite-difference
  /// gradient of the loss with respect to that table entry, and untouched rows must not move.
  @Test func firstAdamStepMovesTouchedRowsAgainstTheirGradient() throws {
    let config = BackboneConfig(
      fields: ["user", "item"], buckets: 6, embeddingDim: 3, hiddenSizes: [5])
    let original = try Backbone(config: config, seed: 8)
    var backbone = original
    let examples = GradientTests.examples(count: 10, seed: 4).map {
      Example(
        domain: "d", categorical: Array($0.categorical.prefix(2)), label: $0.label, eventTimeMs: 0)
    }
    let trainer = BackboneTrainer(
      backbone: backbone, capacity: 10, optimizer: AdamOptimizer(), embeddingL2: 0)
    let rate: Float = 1e-3
    trainer.trainStep(&backbone, on: examples, rate: rate)
    let buckets = (0..<examples.count).map { row in
      (0..<2).map { Int(trainer.workspace.buckets[row * 2 + $0]) }
    }
    let labels = examples.map { Double($0.label) }
    let dense = original.dense.map(Double.init)
    for field in 0..<2 {
      let table = original.embeddings[field].map(Double.init)
      let loss: ([Double]) -> Double = { values in
        let x0 = buckets.map { row in
          (0..<2).flatMap { f in
            (0..<3).map { column in
              f == field
                ? values[row[f] * 3 + column] : Double(original.embeddings[f][row[f] * 3 + column])
            }
          }
        }
        return ReferenceModel.meanCrossEntropy(
          ReferenceModel.upperLogits(
            dense: dense, layers: original.layers, fromLevel: 0, input: x0), labels)
      }
      var checked = 0
      for index in 0..<table.count {
        let moved = backbone.embeddings[field][index] - original.embeddings[field][index]
        let touched = buckets.contains { $0[field] == index / 3 }
        if !touched {
          #expect(moved == 0)
          continue
        }
        let gradient = GradientTests.centralDifference(table, at: index, loss: loss)
        if abs(gradient) < 1e-4 { continue }
        #expect(abs(Double(moved) + Double(rate) * (gradient > 0 ? 1 : -1)) < 1e-5)
        checked += 1
      }
      #expect(checked > 0)
    }
  }
}
