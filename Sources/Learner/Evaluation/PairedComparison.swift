import Foundation

/// The kernel against the backbone on the same examples: AUC difference with DeLong's paired
/// variance, and the per-example log-loss difference with its standard error.
///
/// DeLong, DeLong and Clarke-Pearson (Biometrics 1988): for each scorer r, every positive i gets
/// `V10[r][i]` = the share of negatives it outranks (ties 1/2) and every negative j gets
/// `V01[r][j]` = the share of positives that outrank it; the AUC is the mean of either, and
/// `Var(AUC_k - AUC_b) = (S10kk + S10bb - 2 S10kb) / m + (S01kk + S01bb - 2 S01kb) / n` with
/// `S10`, `S01` the sample covariances over the m positives and n negatives. The structural
/// components come from binned counts (scores within 1/128 logit count as tied, as in
/// `LogitHistogram`), so a comparison costs O(N + bins).
public struct PairedComparison: Sendable, Equatable {
  /// Examples compared.
  public var count: Int
  /// Of which positive.
  public var positives: Int
  /// The kernel's AUC.
  public var kernelAUC: Double
  /// The backbone's AUC.
  public var backboneAUC: Double
  /// DeLong's standard error of `kernelAUC - backboneAUC`.
  public var aucStandardError: Double
  /// The kernel's mean log loss, nats.
  public var kernelLogLoss: Double
  /// The backbone's mean log loss, nats.
  public var backboneLogLoss: Double
  /// Standard error of the mean per-example difference of log losses.
  public var logLossStandardError: Double
  /// The entropy of the labels, nats (the log loss of always predicting the click rate).
  public var labelEntropy: Double

  /// `kernelAUC - backboneAUC`: positive when the kernel ranks better.
  public var aucDifference: Double { kernelAUC - backboneAUC }

  /// `backboneLogLoss - kernelLogLoss`: positive when the kernel predicts better.
  public var logLossGain: Double { backboneLogLoss - kernelLogLoss }

  /// Creates a comparison from its figures (a restored snapshot).
  public init(
    count: Int, positives: Int, kernelAUC: Double, backboneAUC: Double, aucStandardError: Double,
    kernelLogLoss: Double, backboneLogLoss: Double, logLossStandardError: Double,
    labelEntropy: Double
  ) {
    self.count = count
    self.positives = positives
    self.kernelAUC = kernelAUC
    self.backboneAUC = backboneAUC
    self.aucStandardError = aucStandardError
    self.kernelLogLoss = kernelLogLoss
    self.backboneLogLoss = backboneLogLoss
    self.logLossStandardError = logLossStandardError
    self.labelEntropy = labelEntropy
  }

  /// Compares `kernel` and `backbone` logits on `labels` (same length); nil unless both classes
  /// have at least two examples.
  public init?(kernel: [Float], backbone: [Float], labels: [Bool]) {
    self.init(
      kernel: kernel, backbone: backbone, labels: labels,
      kernelLosses: Self.losses(of: kernel, labels: labels),
      backboneLosses: Self.losses(of: backbone, labels: labels))
  }

  /// The log loss of each logit (`Logistic.crossEntropy`) on its label.
  static func losses(of logits: [Float], labels: [Bool]) -> [Float] {
    zip(logits, labels).map { Logistic.crossEntropy(logit: $0, label: $1 ? 1 : 0) }
  }

  /// The same comparison given each example's log losses (`losses(of:labels:)`) as well.
  init?(
    kernel: [Float], backbone: [Float], labels: [Bool], kernelLosses: [Float],
    backboneLosses: [Float]
  ) {
    let total = labels.count
    guard kernel.count == total, backbone.count == total, kernelLosses.count == total,
      backboneLosses.count == total
    else { return nil }
    var losses: [Float] = []
    losses.reserveCapacity(2 * total)
    var keys: [Int16] = []
    keys.reserveCapacity(2 * total)
    for index in 0..<total {
      losses.append(kernelLosses[index])
      losses.append(backboneLosses[index])
      keys.append(Self.key(bin: Self.bin(kernel[index]), isPositive: labels[index]))
      keys.append(Self.key(bin: Self.bin(backbone[index]), isPositive: labels[index]))
    }
    let comparison = losses.withUnsafeBufferPointer { losses in
      keys.withUnsafeBufferPointer { keys in
        PairedComparison(Examples(losses: losses, keys: keys, runs: (0..<total, 0..<0)))
      }
    }
    guard let comparison else { return nil }
    self = comparison
  }

  /// The comparison over `examples`, read in place in their order: nil unless both classes
  /// have at least two examples. `positives` is how many of them are positive, when the caller
  /// knows (counted here otherwise).
  ///
  /// Each sum runs over the examples in their order, as the definitions above read them, so the
  /// figures do not depend on where the examples are held (arrays or the guard's ring). One pass
  /// finds the bins both scorers span, one counts them, one reads every figure of every
  /// example, and the variances take one more over the differences: a 2,000-example window
  /// costs a few microseconds a check, not a sort.
  init?(_ examples: Examples, positives known: Int? = nil) {
    let total = examples.count
    let positiveCount = known ?? examples.positives()
    let negativeCount = total - positiveCount
    guard positiveCount >= 2, negativeCount >= 2 else { return nil }
    // Per positive (from the front of `parts`) and per negative (from `positiveCount` on), in
    // order: the kernel's structural component minus the backbone's; per example, the
    // backbone's log loss minus the kernel's. Each sum is made as its values are, in their
    // order: the first pass of `variance`.
    let sums = withUnsafeTemporaryAllocation(of: Double.self, capacity: total) { parts in
      withUnsafeTemporaryAllocation(of: Double.self, capacity: total) { differences in
        Self.withComponents(
          of: examples, positives: positiveCount, negatives: negativeCount
        ) { kernelComponent, backboneComponent in
          var sums = Sums()
          var positiveIndex = 0
          var negativeIndex = positiveCount
          var index = 0
          examples.forEachPosition { position in
            let kernelLoss = Double(examples.losses[2 * position])
            let backboneLoss = Double(examples.losses[2 * position + 1])
            sums.kernelLoss += kernelLoss
            sums.backboneLoss += backboneLoss
            let difference = backboneLoss - kernelLoss
            differences[index] = difference
            index += 1
            sums.difference += difference
            let kernelKey = examples.keys[2 * position]
            let kernelPart = kernelComponent(kernelKey)
            let backbonePart = backboneComponent(examples.keys[2 * position + 1])
            let componentDifference = kernelPart - backbonePart
            if kernelKey & 1 == 1 {
              sums.kernelComponent += kernelPart
              sums.backboneComponent += backbonePart
              parts[positiveIndex] = componentDifference
              positiveIndex += 1
              sums.positiveDifference += componentDifference
            } else {
              parts[negativeIndex] = componentDifference
              negativeIndex += 1
              sums.negativeDifference += componentDifference
            }
          }
          precondition(
            positiveIndex == positiveCount && negativeIndex == total,
            "\(positiveIndex) positives, not the \(positiveCount) given")
          sums.aucVariance =
            Self.variance(
              UnsafeBufferPointer(rebasing: parts[..<positiveCount]),
              sum: sums.positiveDifference) / Double(positiveCount)
            + Self.variance(
              UnsafeBufferPointer(rebasing: parts[positiveCount...]),
              sum: sums.negativeDifference) / Double(negativeCount)
          sums.differenceVariance = Self.variance(
            UnsafeBufferPointer(differences), sum: sums.difference)
          return sums
        }
      }
    }
    count = total
    positives = positiveCount
    kernelAUC = sums.kernelComponent / Double(positiveCount)
    backboneAUC = sums.backboneComponent / Double(positiveCount)
    aucStandardError = max(0, sums.aucVariance).squareRoot()
    kernelLogLoss = sums.kernelLoss / Double(total)
    backboneLogLoss = sums.backboneLoss / Double(total)
    logLossStandardError = (sums.differenceVariance / Double(total)).squareRoot()
    let rate = Double(positiveCount) / Double(total)
    labelEntropy = -(rate * log(rate) + (1 - rate) * log(1 - rate))
  }

  /// What the pass over the examples adds up.
  private struct Sums {
    var kernelLoss = 0.0
    var backboneLoss = 0.0
    var difference = 0.0
    var kernelComponent = 0.0
    var backboneComponent = 0.0
    var positiveDifference = 0.0
    var negativeDifference = 0.0
    /// DeLong's variance of the AUC difference.
    var aucVariance = 0.0
    /// The sample variance of the log-loss differences.
    var differenceVariance = 0.0
  }

  /// Whether the kernel has shown it is not worse: both point estimates at least the backbone's,
  /// and the one-sided `z` lower bounds within `aucMargin` (AUC) and `logLossMargin` times the
  /// label entropy (log loss).
  public func showsNoHarm(z: Double, aucMargin: Double, logLossMargin: Double) -> Bool {
    aucDifference >= 0 && logLossGain >= 0
      && aucDifference - z * aucStandardError >= -aucMargin
      && logLossGain - z * logLossStandardError >= -logLossMargin * labelEntropy
  }

  /// Whether the kernel is significantly worse at one-sided `z`: on AUC, or on log loss.
  public func showsHarm(z: Double) -> Bool {
    aucDifference + z * aucStandardError < 0 || logLossGain + z * logLossStandardError < 0
  }

  /// Logits are binned 1/128 wide over [-16, 16) (beyond it, into the end bins), as in
  /// `LogitHistogram`: two scores in one bin count as tied.
  static let binsPerLogit: Float = 128
  static let lowestLogit: Float = -16
  static let binCount = 4096

  /// The bin of `logit`.
  static func bin(_ logit: Float) -> Int {
    let position = ((logit - lowestLogit) * binsPerLogit).rounded(.down)
    guard position.isFinite else { return position > 0 ? binCount - 1 : 0 }
    return Int(min(max(position, 0), Float(binCount - 1)))
  }

  /// Per positive (in input order), the share of negatives scored below it; per negative, the
  /// share of positives scored above it; a tie (the same bin) counts 1/2: the components
  /// `init(_:positives:)` reads, of one scorer.
  static func structuralComponents(scores: [Float], labels: [Bool]) -> (
    positives: [Double], negatives: [Double]
  ) {
    let keys = zip(scores, labels).flatMap {
      [key(bin: bin($0), isPositive: $1), key(bin: bin($0), isPositive: $1)]
    }
    let losses = [Float](repeating: 0, count: keys.count)
    let positiveCount = labels.reduce(0) { $0 + ($1 ? 1 : 0) }
    return losses.withUnsafeBufferPointer { losses in
      keys.withUnsafeBufferPointer { keys in
        let examples = Examples(losses: losses, keys: keys, runs: (scores.indices, 0..<0))
        return withComponents(
          of: examples, positives: positiveCount, negatives: scores.count - positiveCount
        ) { component, _ in
          var forPositives: [Double] = []
          var forNegatives: [Double] = []
          for position in scores.indices {
            let part = component(keys[2 * position])
            if labels[position] { forPositives.append(part) } else { forNegatives.append(part) }
          }
          return (forPositives, forNegatives)
        }
      }
    }
  }

  /// The sample variance (n - 1) of `values`, whose `sum` (added in their order) the caller
  /// made as it made them: two passes, the first done.
  private static func variance(_ values: UnsafeBufferPointer<Double>, sum: Double) -> Double {
    guard values.count > 1 else { return 0 }
    let average = sum / Double(values.count)
    return values.reduce(0) { $0 + ($1 - average) * ($1 - average) } / Double(values.count - 1)
  }
}
