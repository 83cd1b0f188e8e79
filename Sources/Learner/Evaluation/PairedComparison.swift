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

  /// The same comparison given each example's log losses (`losses(of:labels:)`) as well, for a
  /// caller that keeps them (`ServingGuard` computes them once per example, not once per check).
  init?(
    kernel: [Float], backbone: [Float], labels: [Bool], kernelLosses: [Float],
    backboneLosses: [Float]
  ) {
    let total = labels.count
    let positiveCount = labels.reduce(0) { $0 + ($1 ? 1 : 0) }
    let negativeCount = total - positiveCount
    guard kernel.count == total, backbone.count == total, kernelLosses.count == total,
      backboneLosses.count == total, positiveCount >= 2, negativeCount >= 2
    else { return nil }
    count = total
    positives = positiveCount
    let kernelParts = Self.structuralComponents(scores: kernel, labels: labels)
    let backboneParts = Self.structuralComponents(scores: backbone, labels: labels)
    kernelAUC = Self.mean(kernelParts.positives)
    backboneAUC = Self.mean(backboneParts.positives)
    let variance =
      Self.varianceOfDifference(kernelParts.positives, backboneParts.positives)
      / Double(positiveCount)
      + Self.varianceOfDifference(kernelParts.negatives, backboneParts.negatives)
      / Double(negativeCount)
    aucStandardError = max(0, variance).squareRoot()
    var differences = [Double](repeating: 0, count: total)
    var kernelSum = 0.0
    var backboneSum = 0.0
    for index in 0..<total {
      let kernelLoss = Double(kernelLosses[index])
      let backboneLoss = Double(backboneLosses[index])
      kernelSum += kernelLoss
      backboneSum += backboneLoss
      differences[index] = backboneLoss - kernelLoss
    }
    kernelLogLoss = kernelSum / Double(total)
    backboneLogLoss = backboneSum / Double(total)
    logLossStandardError = (Self.variance(differences) / Double(total)).squareRoot()
    let rate = Double(positiveCount) / Double(total)
    labelEntropy = -(rate * log(rate) + (1 - rate) * log(1 - rate))
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
  /// share of positives scored above it; a tie (the same bin) counts 1/2. One pass over the
  /// examples and one over the bins they span: a comparison of a 2,000-example window costs a
  /// few microseconds a check, not a sort.
  static func structuralComponents(scores: [Float], labels: [Bool]) -> (
    positives: [Double], negatives: [Double]
  ) {
    var bins = [Int](repeating: 0, count: scores.count)
    var lowest = binCount
    var highest = -1
    for index in scores.indices {
      let bin = bin(scores[index])
      bins[index] = bin
      lowest = min(lowest, bin)
      highest = max(highest, bin)
    }
    guard highest >= lowest else { return ([], []) }
    // Counts over the bins from `lowest` to `highest` only (a window's logits span a few of
    // the 4,096): the same counts, shifted by `lowest`.
    let span = highest - lowest + 1
    var positivesIn = [Int32](repeating: 0, count: span)
    var negativesIn = [Int32](repeating: 0, count: span)
    for index in scores.indices {
      if labels[index] {
        positivesIn[bins[index] - lowest] += 1
      } else {
        negativesIn[bins[index] - lowest] += 1
      }
    }
    let m = positivesIn.reduce(0) { $0 + Int($1) }
    let n = scores.count - m
    // Negatives in the bins below each bin; positives in the bins above it.
    var negativesBelow = [Int](repeating: 0, count: span)
    var positivesAbove = [Int](repeating: 0, count: span)
    var running = 0
    for bin in 0..<span {
      negativesBelow[bin] = running
      running += Int(negativesIn[bin])
    }
    running = 0
    for bin in stride(from: span - 1, through: 0, by: -1) {
      positivesAbove[bin] = running
      running += Int(positivesIn[bin])
    }
    var forPositives: [Double] = []
    var forNegatives: [Double] = []
    forPositives.reserveCapacity(m)
    forNegatives.reserveCapacity(n)
    for index in scores.indices {
      let bin = bins[index] - lowest
      if labels[index] {
        forPositives.append(
          (Double(negativesBelow[bin]) + 0.5 * Double(negativesIn[bin])) / Double(n))
      } else {
        forNegatives.append(
          (Double(positivesAbove[bin]) + 0.5 * Double(positivesIn[bin])) / Double(m))
      }
    }
    return (forPositives, forNegatives)
  }

  private static func mean(_ values: [Double]) -> Double {
    values.reduce(0, +) / Double(max(1, values.count))
  }

  /// The sample variance (n - 1) of `values`.
  private static func variance(_ values: [Double]) -> Double {
    guard values.count > 1 else { return 0 }
    let average = mean(values)
    return values.reduce(0) { $0 + ($1 - average) * ($1 - average) } / Double(values.count - 1)
  }

  /// The sample variance of `first[i] - second[i]`: `S11 + S22 - 2 S12`.
  private static func varianceOfDifference(_ first: [Double], _ second: [Double]) -> Double {
    variance(zip(first, second).map { $0 - $1 })
  }
}
