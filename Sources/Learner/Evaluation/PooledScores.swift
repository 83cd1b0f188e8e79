/// Scores of several domains pooled into one dense histogram of logits (the bins of
/// `LogitHistogram`), for the AUC and log loss of domains aggregated under one label.
///
/// Memory is fixed (two counts per bin) whatever the number of examples pooled.
struct PooledScores {
  private var positives = [Int64](repeating: 0, count: LogitHistogram.binCount)
  private var negatives = [Int64](repeating: 0, count: LogitHistogram.binCount)
  private var crossEntropySum = 0.0
  /// Examples pooled.
  private(set) var count = 0

  /// Adds the window of `meter` (its logits and labels, and its log loss weighted by its size).
  mutating func addWindow(of meter: PrequentialMeter) {
    meter.forEachInWindow { logit, isPositive in
      if isPositive {
        positives[LogitHistogram.bin(of: logit)] += 1
      } else {
        negatives[LogitHistogram.bin(of: logit)] += 1
      }
    }
    if let loss = meter.windowLogLoss {
      crossEntropySum += loss * Double(meter.windowCount)
      count += meter.windowCount
    }
  }

  /// Adds every example `meter` counted, from its histogram (no log loss).
  mutating func addCumulative(of meter: PrequentialMeter) {
    let histogram = meter.histogram
    for index in histogram.bins.indices {
      let bin = Int(histogram.bins[index])
      positives[bin] += histogram.positiveCounts[index]
      negatives[bin] += histogram.negativeCounts[index]
    }
  }

  /// The AUC with ties within a bin counted as 1/2 (as `LogitHistogram.auc`), or nil while a
  /// class is missing.
  var auc: Double? { LogitHistogram.auc(ofCounts: zip(positives, negatives)) }

  /// Mean log loss of the pooled windows, in nats; nil when none was added.
  var logLoss: Double? { count == 0 ? nil : crossEntropySum / Double(count) }
}
