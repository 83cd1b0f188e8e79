import Base

/// Positive and negative counts per bin of logit: an AUC over any number of examples in bounded
/// memory.
///
/// The logit axis from `lowerLogit` to `upperLogit` is cut into `binCount` bins of equal width
/// (1/128 of a logit); logits outside are counted in the first or last bin (NaN in the first).
/// Only occupied bins are stored, so memory grows with the spread of the scores, never with the
/// number of examples: at most `binCount` bins of 18 bytes.
///
/// The AUC counts a positive and a negative in the same bin as a tie (1/2), in different bins by
/// their order. It differs from the exact AUC only through pairs that share a bin, each by at
/// most 1/2, so `|auc - exact| <= errorBound = (1/2) * sum over bins of p_b * n_b / (P * N)`.
/// In the worst case (every score in one bin, e.g. all beyond the range) that is 1/2; for scores
/// with densities of at most `f` per logit in both classes it is about `f / 256`, and for real
/// data far less, as the ties within a bin err both ways.
public struct LogitHistogram: Sendable, Equatable {
  /// Bins over the logit range.
  public static let binCount = 4096
  /// The lower edge of the first bin.
  public static let lowerLogit = -16.0
  /// The upper edge of the last bin.
  public static let upperLogit = 16.0

  /// The occupied bins, ascending.
  public private(set) var bins: [UInt16] = []
  /// Positive examples per occupied bin (same order as `bins`).
  public private(set) var positiveCounts: [Int64] = []
  /// Negative examples per occupied bin (same order as `bins`).
  public private(set) var negativeCounts: [Int64] = []

  /// Creates an empty histogram.
  public init() {}

  /// Recreates a histogram from its occupied bins and their counts; nil unless `bins` is
  /// strictly ascending and below `binCount`, the three arrays are as long, and every bin holds
  /// at least one example and no negative count.
  public init?(bins: [UInt16], positiveCounts: [Int64], negativeCounts: [Int64]) {
    guard bins.count == positiveCounts.count, bins.count == negativeCounts.count,
      bins.allSatisfy({ Int($0) < Self.binCount }),
      zip(bins, bins.dropFirst()).allSatisfy({ $0 < $1 }),
      Self.areValidCounts(positiveCounts, negativeCounts)
    else { return nil }
    self.bins = bins
    self.positiveCounts = positiveCounts
    self.negativeCounts = negativeCounts
  }

  /// Whether every bin holds at least one example, no count is negative and the total does not
  /// overflow.
  private static func areValidCounts(_ positives: [Int64], _ negatives: [Int64]) -> Bool {
    var total: Int64 = 0
    for (p, n) in zip(positives, negatives) {
      guard p >= 0, n >= 0 else { return false }
      let (sum, overflow) = p.addingReportingOverflow(n)
      guard !overflow, sum > 0 else { return false }
      let (next, totalOverflow) = total.addingReportingOverflow(sum)
      guard !totalOverflow else { return false }
      total = next
    }
    return true
  }

  /// The bin a logit falls in.
  public static func bin(of logit: Float) -> Int {
    let position = (Double(logit) - lowerLogit) / (upperLogit - lowerLogit) * Double(binCount)
    guard position.isFinite || position == .infinity else { return 0 }
    if position >= Double(binCount) { return binCount - 1 }
    if position < 0 { return 0 }
    return Int(position)
  }

  /// Counts one example.
  public mutating func record(logit: Float, isPositive: Bool) {
    let bin = UInt16(Self.bin(of: logit))
    let index = bins.firstIndex(notBelow: bin)
    if index == bins.count || bins[index] != bin {
      bins.insert(bin, at: index)
      positiveCounts.insert(0, at: index)
      negativeCounts.insert(0, at: index)
    }
    if isPositive {
      positiveCounts[index] += 1
    } else {
      negativeCounts[index] += 1
    }
  }

  /// Examples counted.
  public var count: Int64 { positives + negatives }

  /// Positive examples counted.
  public var positives: Int64 { positiveCounts.reduce(0, +) }

  /// Negative examples counted.
  public var negatives: Int64 { negativeCounts.reduce(0, +) }

  /// The AUC with ties within a bin counted as 1/2, or nil while a class is missing.
  public var auc: Double? {
    Self.auc(ofCounts: zip(positiveCounts, negativeCounts))
  }

  /// The AUC of (positives, negatives) counts per bin in ascending logit order, ties within a
  /// bin counted as 1/2; nil while a class is missing.
  static func auc<Counts: Sequence<(Int64, Int64)>>(ofCounts counts: Counts) -> Double? {
    var wins = 0.0
    var negativesBelow = 0.0
    var positiveTotal = 0.0
    for (binPositives, binNegatives) in counts {
      wins += Double(binPositives) * (negativesBelow + Double(binNegatives) / 2)
      negativesBelow += Double(binNegatives)
      positiveTotal += Double(binPositives)
    }
    guard positiveTotal > 0, negativesBelow > 0 else { return nil }
    return wins / (positiveTotal * negativesBelow)
  }

  /// The most `auc` can differ from the exact AUC of the same examples: half the share of
  /// (positive, negative) pairs that fall in one bin; nil while a class is missing.
  public var errorBound: Double? {
    let (p, n) = (Double(positives), Double(negatives))
    guard p > 0, n > 0 else { return nil }
    var shared = 0.0
    for index in bins.indices {
      shared += Double(positiveCounts[index]) * Double(negativeCounts[index])
    }
    return shared / (2 * p * n)
  }

}
