import Foundation

/// Prequential quality of one scorer on one domain: AUC over a sliding window and over all
/// examples, log loss and counts, from scores recorded before the examples were trained on.
///
/// The cumulative AUC is exact, so it keeps every (logit, label) pair: 5 bytes per example.
public struct PrequentialMeter: Sendable, Equatable {
  /// Examples in the sliding window.
  public let windowSize: Int
  /// Examples recorded.
  public private(set) var count = 0
  /// Positive examples recorded.
  public private(set) var positives = 0
  /// Sum of the cross-entropy of every example, in nats.
  public private(set) var crossEntropySum = 0.0
  /// Every recorded logit, oldest first.
  private(set) var logits: [Float] = []
  /// Every recorded label (true = positive), oldest first.
  private(set) var labels: [Bool] = []

  /// Creates an empty meter with a sliding window of `windowSize` examples.
  public init(windowSize: Int) { self.windowSize = max(1, windowSize) }

  /// Recreates a meter from its saved parts (a trainer snapshot); the counts follow from
  /// `labels`, which must be as long as `logits`.
  init(windowSize: Int, crossEntropySum: Double, logits: [Float], labels: [Bool]) {
    self.init(windowSize: windowSize)
    self.count = labels.count
    self.positives = labels.reduce(0) { $0 + ($1 ? 1 : 0) }
    self.crossEntropySum = crossEntropySum
    self.logits = logits
    self.labels = labels
  }

  /// Records one example's logit (before training on it) and label.
  public mutating func record(logit: Float, label: Float) {
    let positive = label >= 0.5
    count += 1
    if positive { positives += 1 }
    crossEntropySum += Double(Logistic.crossEntropy(logit: logit, label: positive ? 1 : 0))
    logits.append(logit)
    labels.append(positive)
  }

  /// Mean cross-entropy (log loss) over every example, in nats; nil before the first.
  public var logLoss: Double? { count == 0 ? nil : crossEntropySum / Double(count) }

  /// Exact AUC over every example, or nil while a class is missing.
  public var cumulativeAUC: Double? { auc(from: 0) }

  /// Exact AUC over the last `windowSize` examples, or nil while a class is missing there.
  public var windowAUC: Double? { auc(from: max(0, count - windowSize)) }

  /// Log loss over the last `windowSize` examples, in nats.
  public var windowLogLoss: Double? {
    let start = max(0, count - windowSize)
    if start == count { return nil }
    var sum = 0.0
    for index in start..<count {
      sum += Double(Logistic.crossEntropy(logit: logits[index], label: labels[index] ? 1 : 0))
    }
    return sum / Double(count - start)
  }

  private func auc(from start: Int) -> Double? {
    var pairs: [(score: Float, positive: Bool)] = []
    pairs.reserveCapacity(count - start)
    for index in start..<count { pairs.append((logits[index], labels[index])) }
    return AreaUnderCurve.exact(pairs: &pairs)
  }
}
