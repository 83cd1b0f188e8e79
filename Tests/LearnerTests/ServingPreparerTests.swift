import Foundation
import Testing

@testable import Learner

/// `ServingPreparer.inputs(for:)` runs the frozen layers over many impressions in one product a
/// layer; each impression's serving input must still be the bits of that impression alone, the
/// way the trainer computes it when no input came ahead.
@Suite struct ServingPreparerTests {
  /// `count` impressions over the serve benchmark's shape of backbone (seven fields).
  static func impressions(count: Int, seed: UInt64) -> [Example] {
    var random = NoiseGenerator(state: seed)
    return (0..<count).map { index in
      Example(
        domain: "", categorical: (0..<7).map { "f\($0)=\(random.nextInt(below: 300))" },
        label: 0, eventTimeMs: Int64(index))
    }
  }

  @Test(arguments: [InsertionPoint.embedding, .hidden(1), .hidden(2)])
  func inputsOfManyRowsAreTheBitsOfEachRowAlone(insertAt: InsertionPoint) throws {
    let backbone = try Backbone(
      config: BackboneConfig(
        fields: (0..<7).map { "f\($0)" }, buckets: 20_000, embeddingDim: 16,
        hiddenSizes: [128, 64]),
      seed: 11)
    let trainer = try Trainer(
      backbone: backbone,
      kernelConfig: KernelConfig(insertAt: insertAt, bottleneck: 8, encoderHidden: 32),
      config: TrainConfig(batchMax: 8, learningRate: 0.01))
    let batched = trainer.makeServingPreparer()
    let alone = trainer.makeServingPreparer()
    // Row counts on both sides of BLAS's blocking and of the preparer's pass of 256 rows.
    for count in [1, 2, 3, 4, 5, 7, 8, 15, 16, 17, 31, 33, 64, 255, 256, 257, 600] {
      let examples = Self.impressions(count: count, seed: UInt64(count))
      let inputs = batched.inputs(for: examples)
      #expect(inputs.count == count)
      for (row, example) in examples.enumerated() {
        let expected = alone.inputs(for: [example])[0]
        let input = inputs[row]
        #expect(
          input.backboneLogit.bitPattern == expected.backboneLogit.bitPattern,
          "\(insertAt), \(count) rows, row \(row)")
        #expect(
          input.representation.map(\.bitPattern) == expected.representation.map(\.bitPattern),
          "\(insertAt), \(count) rows, row \(row)")
        if input != expected { return }
      }
    }
    // And the trainer's score of an impression of a trained domain, from an input prepared
    // among others, is the score it computes from the impression alone: backbone and kernel.
    var labelled = Self.impressions(count: 200, seed: 7)
    for index in labelled.indices {
      labelled[index].domain = "trained"
      labelled[index].label = index % 3 == 0 ? 1 : 0
    }
    for example in labelled { _ = trainer.process(example) }
    var example = Self.impressions(count: 1, seed: 99)[0]
    example.domain = "trained"
    let input = batched.inputs(for: Self.impressions(count: 40, seed: 5) + [example]).last!
    let ahead = trainer.servingScore(for: example, input: input)
    let here = trainer.servingScore(for: example)
    #expect(ahead.kernelLogit != ahead.backboneLogit, "the trained kernel scores")
    #expect(ahead.backboneLogit.bitPattern == here.backboneLogit.bitPattern)
    #expect(ahead.kernelLogit.bitPattern == here.kernelLogit.bitPattern)
    #expect(batched.inputs(for: []).isEmpty)
  }
}

extension ServingPreparerTests {
  /// Each element of the row-by-row product is its ordered sum of rounded products, in the
  /// 32-column register blocks and in the columns after them alike, in rows taken two at a
  /// time and in an odd last row: the Swift loop, and the one `multiplyRowByRow` runs on this
  /// CPU (the AVX2 loop in C where it has AVX2).
  @Test func rowByRowProductIsEachElementsOrderedSum() {
    typealias Product = (
      Int, Int, Int, UnsafePointer<Float>, UnsafePointer<Float>, UnsafeMutablePointer<Float>
    ) -> Void
    let products: [(String, Product)] = [
      ("portable", { BLAS.multiplyRowByRowPortable(m: $0, n: $1, k: $2, $3, $4, into: $5) }),
      (
        BLAS.hasAVX2 ? "avx2" : "portable, no AVX2",
        { BLAS.multiplyRowByRow(m: $0, n: $1, k: $2, $3, $4, into: $5) }
      ),
    ]
    let shapes = [
      (1, 1, 1), (3, 7, 5), (2, 32, 9), (5, 40, 112), (4, 128, 112), (1, 64, 128), (2, 16, 64),
      (3, 47, 8), (4, 71, 13), (6, 33, 3),
    ]
    for (m, n, k) in shapes {
      let a = SmallBatchPassTests.values(count: m * k, seed: UInt64(n), scale: 2)
      let b = SmallBatchPassTests.values(count: k * n, seed: UInt64(k), scale: 0.5)
      var expected = [Float](repeating: 0, count: m * n)
      for row in 0..<m {
        for column in 0..<n {
          var sum: Float = 0
          for index in 0..<k { sum += a[row * k + index] * b[index * n + column] }
          expected[row * n + column] = sum
        }
      }
      for (name, multiply) in products {
        var product = [Float](repeating: .nan, count: m * n)
        product.withUnsafeMutableBufferPointer { c in multiply(m, n, k, a, b, c.baseAddress!) }
        #expect(
          product.map(\.bitPattern) == expected.map(\.bitPattern),
          "\(name): \(m)x\(k) * \(k)x\(n)")
      }
    }
  }
}
