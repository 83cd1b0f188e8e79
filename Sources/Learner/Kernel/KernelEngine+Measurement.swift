import Foundation

extension KernelEngine {
  /// Measures the proxies on the prepared batch after `score(with:)`.
  func measure() -> BatchMeasurement {
    let k = layout.bottleneck
    let m = layout.width
    let count = max(1, rows)
    var kl = [Double](repeating: 0, count: k)
    var muSum = [Double](repeating: 0, count: k)
    var muSquares = [Double](repeating: 0, count: k)
    var deltaNorm = 0.0
    var hNorm = 0.0
    var clicks = 0.0
    var kernelCE = 0.0
    var backboneCE = 0.0
    let range = IAKKernel.logVarianceRange
    for row in 0..<rows {
      let stats = kernelWorkspace.statistics + row * 2 * k
      for unit in 0..<k {
        let mu = Double(stats[unit])
        let logVariance = Double(min(max(stats[k + unit], range.lowerBound), range.upperBound))
        kl[unit] += 0.5 * (mu * mu + exp(logVariance) - logVariance - 1)
        muSum[unit] += mu
        muSquares[unit] += mu * mu
      }
      var deltaSquares = 0.0
      var hSquares = 0.0
      for column in 0..<m {
        let delta = Double(kernelWorkspace.delta[row * m + column])
        let h = Double(representation[row * m + column])
        deltaSquares += delta * delta
        hSquares += h * h
      }
      deltaNorm += deltaSquares.squareRoot()
      hNorm += hSquares.squareRoot()
      let label = workspace.labels[row]
      clicks += Double(label)
      kernelCE += Double(Logistic.crossEntropy(logit: kernelLogits[row], label: label))
      backboneCE += Double(Logistic.crossEntropy(logit: backboneLogits[row], label: label))
    }
    let n = Double(count)
    var variance = 0.0
    for unit in 0..<k {
      let mean = muSum[unit] / n
      variance += max(0, muSquares[unit] / n - mean * mean)
    }
    return BatchMeasurement(
      rows: rows, klPerDimension: kl.map { $0 / n }, clickRate: clicks / n,
      kernelCrossEntropy: kernelCE / n,
      backboneCrossEntropy: backboneCE / n,
      relativeDecoderNorm: hNorm > 0 ? deltaNorm / hNorm : 0, muVariance: variance / Double(k))
  }
}
