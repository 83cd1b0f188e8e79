import Foundation

@testable import Learner

/// A plain double-precision implementation of the backbone tower and the kernel loss, written
/// independently of the Learner's buffers, used as the finite-difference reference.
enum ReferenceModel {
  /// Logits of the layers above `level` for rows of `input`.
  static func upperLogits(
    dense: [Double], layers: [DenseLayer], fromLevel level: Int, input: [[Double]]
  ) -> [Double] {
    input.map { row in
      var current = row
      for index in level..<layers.count {
        let layer = layers[index]
        var next = [Double](repeating: 0, count: layer.outputWidth)
        for out in 0..<layer.outputWidth {
          var sum = dense[layer.biasOffset + out]
          for inp in 0..<layer.inputWidth {
            sum += current[inp] * dense[layer.weightOffset + inp * layer.outputWidth + out]
          }
          next[out] = index < layers.count - 1 ? max(0, sum) : sum
        }
        current = next
      }
      return current[0]
    }
  }

  /// Mean binary cross-entropy of logits against labels.
  static func meanCrossEntropy(_ logits: [Double], _ labels: [Double], weights: [Double]? = nil)
    -> Double
  {
    zip(logits, labels).enumerated().map { row, pair in
      let (logit, label) = pair
      return (weights?[row] ?? 1) * (max(logit, 0) - logit * label + log1p(exp(-abs(logit))))
    }.reduce(0, +) / Double(logits.count)
  }

  /// `mean BCE + beta * mean KL` of a kernel with parameters `kernel` at `level`, for inputs
  /// `h`, fixed noise `eps` (rows x k) and labels; with `weights`, each row's BCE weighted.
  static func kernelLoss(
    kernel: [Double], layout: KernelLayout, dense: [Double], layers: [DenseLayer], level: Int,
    h: [[Double]], eps: [[Double]], labels: [Double], beta: Double, weights: [Double]? = nil
  ) -> Double {
    let k = layout.bottleneck
    let m = layout.width
    let hiddenWidth = layout.encoderHidden
    var modified: [[Double]] = []
    var totalKL = 0.0
    for (row, input) in h.enumerated() {
      var encoderInput = input
      if hiddenWidth > 0 {
        encoderInput = (0..<hiddenWidth).map { unit in
          var sum = kernel[layout.hiddenBias + unit]
          for inp in 0..<m {
            sum += input[inp] * kernel[layout.hiddenWeight + inp * hiddenWidth + unit]
          }
          return max(0, sum)
        }
      }
      let stats = (0..<(2 * k)).map { unit in
        var sum = kernel[layout.encoderBias + unit]
        for inp in 0..<encoderInput.count {
          sum += encoderInput[inp] * kernel[layout.encoderWeight + inp * 2 * k + unit]
        }
        return sum
      }
      var code = [Double](repeating: 0, count: k)
      for unit in 0..<k {
        let mu = stats[unit]
        let logVariance = stats[k + unit]
        code[unit] = mu + exp(0.5 * logVariance) * eps[row][unit]
        totalKL += 0.5 * (mu * mu + exp(logVariance) - logVariance - 1)
      }
      modified.append(
        (0..<m).map { out in
          var sum = input[out] + kernel[layout.decoderBias + out]
          for unit in 0..<k { sum += code[unit] * kernel[layout.decoderWeight + unit * m + out] }
          return sum
        })
    }
    let logits = upperLogits(dense: dense, layers: layers, fromLevel: level, input: modified)
    return meanCrossEntropy(logits, labels, weights: weights) + beta * totalKL / Double(h.count)
  }
}
