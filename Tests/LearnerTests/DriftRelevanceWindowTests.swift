import Foundation
import Testing

@testable import Learner

@Suite struct DriftRelevanceWindowTests {
  @Test func keepsTheNewestExamplesAndExactSums() {
    var window = DriftRelevanceWindow(capacity: 3)
    let examples = [
      DriftExample(kernelLoss: 9, backboneLoss: 9, label: 1),
      DriftExample(kernelLoss: 0.5, backboneLoss: 0.25, label: 1),
      DriftExample(kernelLoss: 0.25, backboneLoss: 0.5, label: 0),
      DriftExample(kernelLoss: 0.75, backboneLoss: 1, label: 0),
    ]
    for example in examples { window.append(example) }
    #expect(window.isFull)
    #expect(window.examples == Array(examples.dropFirst()))
    #expect(window.kernelCrossEntropy == 0.5)
    #expect(window.backboneCrossEntropy == 1.75 / 3)
    #expect(window.clickRate == 1.0 / 3)
    // H(1/3) = log2(3) - 2/3 bits.
    let entropy = log2(3.0) - 2.0 / 3
    #expect(abs(window.labelEntropyBits - entropy) < 1e-12)
    #expect(abs(window.kernelRelevanceBits - (entropy - 0.5 / M_LN2)) < 1e-12)
    #expect(abs(window.backboneRelevanceBits - (entropy - 1.75 / 3 / M_LN2)) < 1e-12)
  }

  @Test func sumsStayExactOverManyWraps() {
    var window = DriftRelevanceWindow(capacity: 7)
    var generator = SeededGenerator(seed: 5)
    for _ in 0..<100_003 {
      window.append(DriftStreams.example(rate: 0.2, using: &generator))
    }
    let held = window.examples
    #expect(held.count == 7)
    let exact = held.reduce(0) { $0 + $1.kernelLoss } / 7
    #expect(abs(window.kernelCrossEntropy - exact) < 1e-12)
  }

  @Test func crossEntropyFromLogitsIsStable() {
    let balanced = DriftExample(kernelLogit: 0, backboneLogit: 100, label: 1)
    #expect(abs(balanced.kernelLoss - log(2)) < 1e-12)
    #expect(balanced.backboneLoss < 1e-40)
    let confidentWrong = DriftExample(kernelLogit: 100, backboneLogit: -100, label: 0)
    #expect(confidentWrong.kernelLoss == 100)
    #expect(confidentWrong.backboneLoss < 1e-40)
    #expect(confidentWrong.isValid)
    #expect(!DriftExample(kernelLoss: .nan, backboneLoss: 0, label: 0).isValid)
    #expect(!DriftExample(kernelLoss: 0, backboneLoss: 0, label: 2).isValid)
  }
}
