import Foundation
import Testing

@testable import Learner

/// The shortcuts that make steps on small batches cheap give the same bits as the plain loops
/// and products they replace.
@Suite struct SmallBatchPassTests {
  /// `count` values of mixed sign and size from `seed`.
  static func values(count: Int, seed: UInt64, scale: Float = 1) -> [Float] {
    var random = NoiseGenerator(state: seed)
    return (0..<count).map { _ in Float(random.nextUniform() - 0.5) * scale }
  }

  @Test func adamUpdateEqualsTheElementByElementLoop() {
    let optimizer = AdamOptimizer()
    for count in [1, 7, 8, 13, 1616] {
      let gradient = Self.values(count: count, seed: 1)
      var parameters = Self.values(count: count, seed: 2)
      var first = Self.values(count: count, seed: 3, scale: 0.1)
      var second = Self.values(count: count, seed: 4, scale: 0.01).map { abs($0) }
      // The update as one parameter at a time, in the order the optimiser documents.
      var expected = parameters
      for index in 0..<count {
        let g = gradient[index] * 0.75
        let m = 0.9 * first[index] + (1 - Float(0.9)) * g
        let v = 0.999 * second[index] + (1 - Float(0.999)) * g * g
        expected[index] -= 0.001 * m / (v.squareRoot() + 1e-8)
      }
      parameters.withUnsafeMutableBufferPointer { p in
        first.withUnsafeMutableBufferPointer { m in
          second.withUnsafeMutableBufferPointer { v in
            optimizer.update(
              parameters: p.baseAddress!, gradient: gradient, firstMoment: m.baseAddress!,
              secondMoment: v.baseAddress!, count: count, correctedRate: 0.001,
              gradientScale: 0.75)
          }
        }
      }
      #expect(parameters.map(\.bitPattern) == expected.map(\.bitPattern), "count \(count)")
    }
  }

  @Test func clippingScaleEqualsTheOrderedSumOnBothSidesOfTheLimit() {
    let gradient = Self.values(count: 1616, seed: 9, scale: 0.4)
    var squares: Float = 0
    for value in gradient { squares += value * value }
    let norm = squares.squareRoot()
    // Limits far above, just above, at, just below and far below the gradient's norm.
    let limits: [Float] = [
      10 * norm, norm.nextUp.nextUp, norm, norm.nextDown, norm.nextDown.nextDown, norm / 3,
    ]
    for clip in limits {
      let expected: Float = norm > clip ? clip / norm : 1
      let scale = AdamOptimizer.clippingScale(gradient, count: gradient.count, clip: clip)
      #expect(scale.bitPattern == expected.bitPattern, "clip \(clip), norm \(norm)")
    }
    #expect(AdamOptimizer.clippingScale(gradient, count: gradient.count, clip: 0) == 1)
    let infinite = gradient + [.infinity]
    #expect(AdamOptimizer.clippingScale(infinite, count: infinite.count, clip: 1) == 0)
  }

  @Test func oneColumnProductsAreExactOuterProducts() {
    let a = Self.values(count: 5, seed: 5)
    let b = Self.values(count: 64, seed: 6)
    for (transposeA, transposeB) in [(false, false), (true, false), (false, true), (true, true)] {
      var c = [Float](repeating: .nan, count: 5 * 64)
      c.withUnsafeMutableBufferPointer { out in
        BLAS.multiply(
          m: 5, n: 64, k: 1, a, transposeA: transposeA, b, transposeB: transposeB,
          into: out.baseAddress!)
      }
      let expected = (0..<5).flatMap { i in b.map { a[i] * $0 } }
      #expect(c.map(\.bitPattern) == expected.map(\.bitPattern))
    }
    // beta = 1 still accumulates into what c held.
    var c = [Float](repeating: 1, count: 2 * 3)
    c.withUnsafeMutableBufferPointer { out in
      BLAS.multiply(m: 2, n: 3, k: 1, [2, 3], [1, 2, 4], into: out.baseAddress!, beta: 1)
    }
    #expect(c == [3, 5, 9, 4, 7, 13])
  }

  /// One-row products skip `cblas_sgemm`: without transposes they are the row loop's bits
  /// (what a serving engine computes for the same row), and every way (transposed, beta 0 or
  /// 1) they are the product, to float rounding of a sum of `k` terms.
  @Test func oneRowProductsAreTheRowLoopsBitsAndTheProduct() {
    let k = 37
    let n = 70
    let a = Self.values(count: k, seed: 7)
    let b = Self.values(count: k * n, seed: 8)
    // b as [k x n], and the same matrix stored transposed, [n x k].
    let stored = (0..<n).flatMap { j in (0..<k).map { b[$0 * n + j] } }
    let exact = (0..<n).map { j in
      (0..<k).reduce(0.0) { $0 + Double(a[$1]) * Double(b[$1 * n + j]) }
    }
    var rowLoop = [Float](repeating: .nan, count: n)
    rowLoop.withUnsafeMutableBufferPointer {
      BLAS.multiplyRowByRow(m: 1, n: n, k: k, a, b, into: $0.baseAddress!)
    }
    for (transposeA, transposeB, beta) in [
      (false, false, Float(0)), (true, false, 0), (false, true, 0), (true, true, 0),
      (false, false, 1), (false, true, 1),
    ] {
      var c = [Float](repeating: beta == 0 ? .nan : 0.5, count: n)
      c.withUnsafeMutableBufferPointer { out in
        BLAS.multiply(
          m: 1, n: n, k: k, a, transposeA: transposeA, transposeB ? stored : b,
          transposeB: transposeB, into: out.baseAddress!, beta: beta)
      }
      let expected = exact.map { $0 + (beta == 0 ? 0 : 0.5) }
      for j in 0..<n {
        #expect(abs(Double(c[j]) - expected[j]) < 1e-5, "\(transposeA) \(transposeB) \(beta) \(j)")
      }
      if !transposeB && beta == 0 {
        #expect(c.map(\.bitPattern) == rowLoop.map(\.bitPattern))
      }
    }
  }

  @Test func batchCostsCoverEveryBatchSizeOfTheConfiguredModel() throws {
    let costs = try LearnerBenchmark.runBatchCosts(
      backbone: TrainerTests.backboneConfig,
      kernel: KernelConfig(insertAt: .hidden(2), bottleneck: 3),
      train: TrainConfig(stepsPerBatch: 2), batchSizes: [1, 4], seconds: 0.02)
    #expect(costs.map(\.batchSize) == [1, 4])
    #expect(costs.allSatisfy { $0.stepsPerBatch == 2 })
    #expect(
      costs.allSatisfy {
        $0.examplesPerSecond > 0 && $0.trainerExamplesPerSecond > 0 && $0.stepMicroseconds > 0
          && $0.prepareMicroseconds > 0 && $0.scoreMicroseconds > 0
      })
    let lines = LearnerBenchmark.format(
      costs, backbone: TrainerTests.backboneConfig, kernel: KernelConfig(insertAt: .hidden(2)))
    #expect(lines.count == 3)
    #expect(lines[0].contains("hidden 12,8, kernel at hidden2"))
    #expect(lines[1].hasPrefix("batch 1: ") && lines[1].contains("(2 steps/batch)"))
  }
}
