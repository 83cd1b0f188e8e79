import Foundation

/// A domain's information-bottleneck proxies, exponentially weighted over its batches.
///
/// Measured on each batch's scoring pass (z = mu, before training on it):
/// - compression: `I(X;Z) <= E[KL(q(z|x) || N(0, I))]` in nats, and the same per dimension;
/// - relevance: `I(Z;Y) >= H(Y) - CE` in bits, with `H(Y)` the entropy of the domain's click rate
///   and CE the kernel's cross-entropy; `backboneRelevanceBits` is the same for the backbone;
/// - collapse: active units (dimensions whose KL exceeds the threshold), the decoder output norm
///   relative to `h` (~0 = the kernel is the identity), and the batch variance of mu (~0 = every
///   example maps to the same z).
///
/// Each value follows `v <- (1 - decay) v + decay * batch value`; the first batch sets it. The
/// variance of mu is only measured on batches of 2 or more rows (a single row has variance 0 by
/// definition, which would read as collapse), so it has its own count, `muVarianceBatches`.
public struct InformationProxies: Sendable, Equatable {
  /// Weight of the newest batch.
  public let decay: Double
  /// Threshold on a dimension's mean KL for it to count as active, in nats.
  public let activeUnitThreshold: Double
  /// Batches measured.
  public private(set) var batches = 0
  /// Mean KL per bottleneck dimension, in nats.
  public private(set) var klPerDimension: [Double]
  /// Mean KL per example summed over dimensions, in nats (upper bound of I(X;Z)).
  public private(set) var meanKL = 0.0
  /// Click rate of the domain.
  public private(set) var clickRate = 0.0
  /// Kernel cross-entropy, in nats.
  public private(set) var kernelCrossEntropy = 0.0
  /// Backbone cross-entropy, in nats.
  public private(set) var backboneCrossEntropy = 0.0
  /// Mean L2 norm of the decoder output divided by the mean L2 norm of `h`.
  public private(set) var relativeDecoderNorm = 0.0
  /// Variance of mu across a batch, averaged over dimensions; meaningful once
  /// `muVarianceBatches > 0`.
  public private(set) var muVariance = 0.0
  /// Batches of 2 or more rows, the ones that measured `muVariance`.
  public private(set) var muVarianceBatches = 0

  /// Creates empty proxies for a bottleneck of `dimensions`.
  public init(dimensions: Int, decay: Double, activeUnitThreshold: Double) {
    self.decay = decay
    self.activeUnitThreshold = activeUnitThreshold
    self.klPerDimension = [Double](repeating: 0, count: dimensions)
  }

  /// Recreates proxies from their saved values (a trainer snapshot); `values` holds the six
  /// scalars in the order of `savedValues`.
  init(
    decay: Double, activeUnitThreshold: Double, batches: Int, muVarianceBatches: Int,
    klPerDimension: [Double], values: [Double]
  ) {
    self.init(dimensions: 0, decay: decay, activeUnitThreshold: activeUnitThreshold)
    self.batches = batches
    self.muVarianceBatches = muVarianceBatches
    self.klPerDimension = klPerDimension
    meanKL = values[0]
    clickRate = values[1]
    kernelCrossEntropy = values[2]
    backboneCrossEntropy = values[3]
    relativeDecoderNorm = values[4]
    muVariance = values[5]
  }

  /// The scalar proxies in their saved order: mean KL, click rate, kernel cross-entropy,
  /// backbone cross-entropy, relative decoder norm, mu variance.
  var savedValues: [Double] {
    [meanKL, clickRate, kernelCrossEntropy, backboneCrossEntropy, relativeDecoderNorm, muVariance]
  }

  /// Dimensions whose mean KL exceeds the threshold.
  public var activeUnits: Int { klPerDimension.filter { $0 > activeUnitThreshold }.count }

  /// Entropy of the click label, in bits.
  public var labelEntropyBits: Double {
    let p = min(max(clickRate, 1e-12), 1 - 1e-12)
    return -(p * log2(p) + (1 - p) * log2(1 - p))
  }

  /// `H(Y) - CE` of the kernel, in bits (a lower bound of I(Z;Y)).
  public var kernelRelevanceBits: Double { labelEntropyBits - kernelCrossEntropy / M_LN2 }

  /// `H(Y) - CE` of the backbone alone, in bits.
  public var backboneRelevanceBits: Double { labelEntropyBits - backboneCrossEntropy / M_LN2 }

  /// Folds in one batch's measurement.
  mutating func update(with batch: BatchMeasurement) {
    let weight = batches == 0 ? 1 : decay
    func blend(_ old: Double, _ new: Double) -> Double { (1 - weight) * old + weight * new }
    for index in klPerDimension.indices where index < batch.klPerDimension.count {
      klPerDimension[index] = blend(klPerDimension[index], batch.klPerDimension[index])
    }
    meanKL = blend(meanKL, batch.klPerDimension.reduce(0, +))
    clickRate = blend(clickRate, batch.clickRate)
    kernelCrossEntropy = blend(kernelCrossEntropy, batch.kernelCrossEntropy)
    backboneCrossEntropy = blend(backboneCrossEntropy, batch.backboneCrossEntropy)
    relativeDecoderNorm = blend(relativeDecoderNorm, batch.relativeDecoderNorm)
    if batch.rows >= 2 {
      let varianceWeight = muVarianceBatches == 0 ? 1 : decay
      muVariance = (1 - varianceWeight) * muVariance + varianceWeight * batch.muVariance
      muVarianceBatches += 1
    }
    batches += 1
  }
}
