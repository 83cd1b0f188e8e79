import Foundation

/// Prequential quality of one scorer on one domain: AUC and log loss over a sliding window and
/// over all examples, and counts, from scores recorded before the examples were trained on.
///
/// Memory is bounded: the window's (logit, label) pairs sit in a ring of `windowSize` (its AUC
/// and log loss are exact), and all examples are counted in a `LogitHistogram`, whose AUC is
/// within `cumulativeAUCErrorBound` of the exact one. The cumulative log loss is exact.
public struct PrequentialMeter: Sendable {
  /// Examples in the sliding window.
  public let windowSize: Int
  /// Examples recorded.
  public private(set) var count = 0
  /// Positive examples recorded.
  public private(set) var positives = 0
  /// Sum of the cross-entropy of every example, in nats.
  public private(set) var crossEntropySum = 0.0
  /// Every example recorded, binned by logit.
  public private(set) var histogram = LogitHistogram()
  /// The window's logits, a ring once full: the oldest is at `ringStart`.
  private var ringLogits: [Float] = []
  /// The window's labels (true = positive), in the same places as `ringLogits`.
  private var ringLabels: [Bool] = []
  /// Where the oldest example of a full window is, and the next one goes.
  private var ringStart = 0

  /// Creates an empty meter with a sliding window of `windowSize` examples.
  public init(windowSize: Int) { self.windowSize = max(1, windowSize) }

  /// Recreates a meter from its saved parts (a trainer snapshot): the counts follow from
  /// `histogram`; the window keeps the last `windowSize` of `windowLogits` and `windowLabels`
  /// (oldest first, as long as each other, no more than the histogram counts).
  init(
    windowSize: Int, crossEntropySum: Double, histogram: LogitHistogram, windowLogits: [Float],
    windowLabels: [Bool]
  ) {
    self.init(windowSize: windowSize)
    self.count = Int(histogram.count)
    self.positives = Int(histogram.positives)
    self.crossEntropySum = crossEntropySum
    self.histogram = histogram
    ringLogits = Array(windowLogits.suffix(self.windowSize))
    ringLabels = Array(windowLabels.suffix(self.windowSize))
  }

  /// Recreates a meter from every logit and label it recorded (a format 2 trainer snapshot):
  /// all of them go into the histogram, the last `windowSize` into the window.
  init(windowSize: Int, crossEntropySum: Double, logits: [Float], labels: [Bool]) {
    var histogram = LogitHistogram()
    for (logit, label) in zip(logits, labels) { histogram.record(logit: logit, isPositive: label) }
    self.init(
      windowSize: windowSize, crossEntropySum: crossEntropySum, histogram: histogram,
      windowLogits: logits, windowLabels: labels)
  }

  /// Records one example's logit (before training on it) and label.
  public mutating func record(logit: Float, label: Float) {
    let positive = label >= 0.5
    count += 1
    if positive { positives += 1 }
    crossEntropySum += Double(Logistic.crossEntropy(logit: logit, label: positive ? 1 : 0))
    histogram.record(logit: logit, isPositive: positive)
    if ringLogits.count < windowSize {
      if ringLogits.count == ringLogits.capacity {
        // Grown by doubling, but never past the window: a full window of 10,000 would
        // otherwise sit in buffers of 16,384.
        let capacity = min(windowSize, max(16, 2 * ringLogits.count))
        ringLogits.reserveCapacity(capacity)
        ringLabels.reserveCapacity(capacity)
      }
      ringLogits.append(logit)
      ringLabels.append(positive)
    } else {
      ringLogits[ringStart] = logit
      ringLabels[ringStart] = positive
      ringStart = (ringStart + 1) % windowSize
    }
  }

  /// The window's logits and labels, oldest first.
  var window: (logits: [Float], labels: [Bool]) {
    (
      Array(ringLogits[ringStart...] + ringLogits[..<ringStart]),
      Array(ringLabels[ringStart...] + ringLabels[..<ringStart])
    )
  }

  /// Calls `body` with each logit and label of the window, in no particular order.
  func forEachInWindow(_ body: (Float, Bool) -> Void) {
    for index in ringLogits.indices { body(ringLogits[index], ringLabels[index]) }
  }

  /// Examples in the window.
  var windowCount: Int { ringLogits.count }

  /// Bytes of the window's buffers (their capacities).
  var windowHeldBytes: Int {
    ringLogits.capacity * MemoryLayout<Float>.stride + ringLabels.capacity
      * MemoryLayout<Bool>.stride
  }

  /// Mean cross-entropy (log loss) over every example, in nats; nil before the first.
  public var logLoss: Double? { count == 0 ? nil : crossEntropySum / Double(count) }

  /// AUC over every example from the histogram (ties within a bin count 1/2), or nil while a
  /// class is missing; within `cumulativeAUCErrorBound` of the exact AUC.
  public var cumulativeAUC: Double? { histogram.auc }

  /// The most `cumulativeAUC` can differ from the exact AUC (see `LogitHistogram`).
  public var cumulativeAUCErrorBound: Double? { histogram.errorBound }

  /// Exact AUC over the last `windowSize` examples, or nil while a class is missing there.
  public var windowAUC: Double? {
    var keys: [UInt64] = []
    keys.reserveCapacity(ringLogits.count)
    for index in ringLogits.indices {
      keys.append(AreaUnderCurve.key(ringLogits[index], isPositive: ringLabels[index]))
    }
    return AreaUnderCurve.exact(keys: &keys)
  }

  /// Log loss over the last `windowSize` examples, in nats.
  public var windowLogLoss: Double? {
    let size = ringLogits.count
    if size == 0 { return nil }
    // Oldest first, so that a restored meter (whose ring starts at 0) sums in the same order.
    var sum = 0.0
    for offset in 0..<size {
      let index = (ringStart + offset) % size
      sum += Double(
        Logistic.crossEntropy(logit: ringLogits[index], label: ringLabels[index] ? 1 : 0))
    }
    return sum / Double(size)
  }
}

extension PrequentialMeter: Equatable {
  /// Meters are equal when they counted the same examples and hold the same window in the same
  /// order, wherever their rings start.
  public static func == (lhs: PrequentialMeter, rhs: PrequentialMeter) -> Bool {
    lhs.windowSize == rhs.windowSize && lhs.count == rhs.count && lhs.positives == rhs.positives
      && lhs.crossEntropySum == rhs.crossEntropySum && lhs.histogram == rhs.histogram
      && lhs.window.logits == rhs.window.logits && lhs.window.labels == rhs.window.labels
  }
}
