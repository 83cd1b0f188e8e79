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
    guard kernel.count == total, backbone.count == total, kernelLosses.count == total,
      backboneLosses.count == total
    else { return nil }
    self.init(
      examples: PairedArrays(
        kernel: kernel, backbone: backbone, labels: labels, kernelLosses: kernelLosses,
        backboneLosses: backboneLosses))
  }

  /// The comparison over `examples`, read in order without copying them: nil unless both
  /// classes have at least two examples. `positives` is how many of them are positive, when
  /// the caller knows (counted here otherwise).
  ///
  /// Each sum runs over the examples in their order, as the definitions above read them, so
  /// the figures do not depend on where the examples are held (an array or the guard's ring).
  init?(examples: some PairedExamples, positives known: Int? = nil) {
    let total = examples.count
    let positiveCount = known ?? Self.positives(in: examples)
    let negativeCount = total - positiveCount
    guard positiveCount >= 2, negativeCount >= 2 else { return nil }
    count = total
    positives = positiveCount
    let (kernelTable, backboneTable) = BinTable.pair(examples, positives: positiveCount)
    // Per positive and per negative, in order: the kernel's structural component minus the
    // backbone's. The AUCs are the means of each scorer's components over the positives.
    // Each array's sum as its values are made, in their order: the first pass of `variance`.
    var positiveDifferences: [Double] = []
    positiveDifferences.reserveCapacity(positiveCount)
    var negativeDifferences: [Double] = []
    negativeDifferences.reserveCapacity(negativeCount)
    var positiveDifferenceSum = 0.0
    var negativeDifferenceSum = 0.0
    var kernelComponentSum = 0.0
    var backboneComponentSum = 0.0
    // The log losses in the same pass: each sum still adds its terms in the examples' order.
    var differences: [Double] = []
    differences.reserveCapacity(total)
    var differenceSum = 0.0
    var kernelSum = 0.0
    var backboneSum = 0.0
    for index in 0..<total {
      let kernelLoss = Double(examples.kernelLoss(index))
      let backboneLoss = Double(examples.backboneLoss(index))
      kernelSum += kernelLoss
      backboneSum += backboneLoss
      let difference = backboneLoss - kernelLoss
      differences.append(difference)
      differenceSum += difference
      let isPositive = examples.isPositive(index)
      let kernelPart = kernelTable.component(of: index)
      let backbonePart = backboneTable.component(of: index)
      let componentDifference = kernelPart - backbonePart
      if isPositive {
        kernelComponentSum += kernelPart
        backboneComponentSum += backbonePart
        positiveDifferences.append(componentDifference)
        positiveDifferenceSum += componentDifference
      } else {
        negativeDifferences.append(componentDifference)
        negativeDifferenceSum += componentDifference
      }
    }
    precondition(
      positiveDifferences.count == positiveCount,
      "\(positiveDifferences.count) positives, not the \(positiveCount) given")
    kernelAUC = kernelComponentSum / Double(positiveCount)
    backboneAUC = backboneComponentSum / Double(positiveCount)
    let variance =
      Self.variance(positiveDifferences, sum: positiveDifferenceSum) / Double(positiveCount)
      + Self.variance(negativeDifferences, sum: negativeDifferenceSum) / Double(negativeCount)
    aucStandardError = max(0, variance).squareRoot()
    kernelLogLoss = kernelSum / Double(total)
    backboneLogLoss = backboneSum / Double(total)
    logLossStandardError =
      (Self.variance(differences, sum: differenceSum) / Double(total)).squareRoot()
    let rate = Double(positiveCount) / Double(total)
    labelEntropy = -(rate * log(rate) + (1 - rate) * log(1 - rate))
  }

  /// How many of `examples` are positive.
  static func positives(in examples: some PairedExamples) -> Int {
    var count = 0
    for index in 0..<examples.count where examples.isPositive(index) { count += 1 }
    return count
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
    let examples = PairedArrays(
      kernel: scores, backbone: scores, labels: labels, kernelLosses: [], backboneLosses: [])
    let positiveCount = labels.reduce(0) { $0 + ($1 ? 1 : 0) }
    guard !scores.isEmpty else { return ([], []) }
    let table = BinTable.pair(examples, positives: positiveCount).kernel
    var forPositives: [Double] = []
    var forNegatives: [Double] = []
    forPositives.reserveCapacity(positiveCount)
    forNegatives.reserveCapacity(scores.count - positiveCount)
    for index in scores.indices {
      let part = table.component(of: index)
      if labels[index] { forPositives.append(part) } else { forNegatives.append(part) }
    }
    return (forPositives, forNegatives)
  }

  /// The sample variance (n - 1) of `values`, whose `sum` (added in their order) the caller
  /// made as it made them: two passes, the first done.
  private static func variance(_ values: [Double], sum: Double) -> Double {
    guard values.count > 1 else { return 0 }
    let average = sum / Double(values.count)
    return values.reduce(0) { $0 + ($1 - average) * ($1 - average) } / Double(values.count - 1)
  }
}
