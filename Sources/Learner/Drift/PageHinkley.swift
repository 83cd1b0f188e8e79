import Foundation

/// The Page-Hinkley test for a change in the mean of a stream (Page 1954; Mouss et al. 2004),
/// one or two sided, on standardised or raw values.
///
/// With `x̄_t` the mean of the values since the test (re)started and `d_t = (x_t - x̄_t) / s_t`
/// (`s_t` their standard deviation; 1 on raw values), the increase test keeps
/// `m_t = Σ (d_i - delta)` and signals when `m_t - min m > lambda`; the decrease test keeps
/// `Σ (d_i + delta)` and signals when `max - it > lambda`. Signals are only given once
/// `minExamples` values were seen; after a signal the test restarts and learns the new mean.
///
/// Why standardised: one `(delta, lambda)` then serves every domain and both signals (a 0/1 click
/// indicator has variance p(1 - p), per-example logloss around 0.15 to 0.45 on calibrated
/// predictions), and the false-alarm rate depends on `2 delta lambda` alone. Measured by
/// `DriftCalibrationTests` over 3 x 200k calibrated examples per click rate: the defaults (0.1,
/// 80) gave no false alarm at click rates 0.01 to 0.55 and 3 at 0.001 (rare clicks make
/// standardised clicks heavy-tailed), while `drift.ph_delta = 0.005, drift.ph_lambda = 50` gave
/// about 100 per detector standardised, and in raw units 13 to 56 on logloss and up to 55 on
/// clicks (p = 0.55). A click-rate step 0.1 -> 0.5 is found after 65 to 103 examples.
///
/// Why not ADWIN: Page-Hinkley costs O(1) time and seven numbers of state per stream, so a
/// snapshot restores it exactly, and its delta says which changes are too small to matter.
/// ADWIN keeps O(log W) buckets per stream and its Hoeffding bound is slow on rare clicks.
public struct PageHinkley: Sendable, Equatable {
  /// Which changes of the mean the test looks for.
  public enum Direction: String, Sendable {
    /// Increases only (e.g. logloss: a falling loss is good news).
    case increase
    /// Decreases only.
    case decrease
    /// Both (e.g. click rate).
    case both
  }

  /// A change the test found.
  public struct Detection: Sendable, Equatable {
    /// Whether the mean went up or down (`.increase` or `.decrease`).
    public var direction: Direction
    /// The Page-Hinkley statistic that crossed `lambda`.
    public var statistic: Double
    /// Values seen since the test (re)started, including the one that signalled.
    public var examples: Int
    /// The mean of those values.
    public var mean: Double
  }

  /// Tolerance: changes of the mean smaller than this (in standard deviations when
  /// standardised) are not looked for.
  public let delta: Double
  /// Threshold on the cumulative deviation.
  public let lambda: Double
  /// Values needed after a (re)start before the test may signal.
  public let minExamples: Int
  /// Which changes the test looks for.
  public let direction: Direction
  /// Whether deviations are divided by the running standard deviation.
  public let isStandardized: Bool

  /// Values seen since the last (re)start.
  public internal(set) var count = 0
  /// Their mean.
  public internal(set) var mean = 0.0
  /// Their sum of squared deviations from the mean (Welford).
  var squaredDeviations = 0.0
  /// `Σ (d_i - delta)`.
  var increaseSum = 0.0
  /// The minimum of `increaseSum` since the last (re)start (and 0).
  var increaseMinimum = 0.0
  /// `Σ (d_i + delta)`.
  var decreaseSum = 0.0
  /// The maximum of `decreaseSum` since the last (re)start (and 0).
  var decreaseMaximum = 0.0

  /// Creates a test; negative `minExamples` is read as 0.
  public init(
    delta: Double, lambda: Double, minExamples: Int, direction: Direction,
    isStandardized: Bool = true
  ) {
    self.delta = delta
    self.lambda = lambda
    self.minExamples = max(0, minExamples)
    self.direction = direction
    self.isStandardized = isStandardized
  }

  /// The larger of the increase and decrease statistics the test looks for.
  public var statistic: Double {
    max(
      direction == .decrease ? 0 : increaseSum - increaseMinimum,
      direction == .increase ? 0 : decreaseMaximum - decreaseSum)
  }

  /// The standard deviation of the values since the last (re)start.
  public var standardDeviation: Double {
    count > 1 ? (squaredDeviations / Double(count)).squareRoot() : 0
  }

  /// Adds a value; returns the change found, after which the test has restarted. Non-finite
  /// values are ignored (the caller counts them).
  public mutating func add(_ value: Double) -> Detection? {
    guard value.isFinite else { return nil }
    count += 1
    let before = value - mean
    mean += before / Double(count)
    squaredDeviations += before * (value - mean)
    let deviation = standardized(value - mean)
    increaseSum += deviation - delta
    increaseMinimum = min(increaseMinimum, increaseSum)
    decreaseSum += deviation + delta
    decreaseMaximum = max(decreaseMaximum, decreaseSum)
    guard count >= minExamples else { return nil }
    let up = direction == .decrease ? -Double.infinity : increaseSum - increaseMinimum
    let down = direction == .increase ? -Double.infinity : decreaseMaximum - decreaseSum
    guard max(up, down) > lambda else { return nil }
    let detection = Detection(
      direction: up >= down ? .increase : .decrease, statistic: max(up, down), examples: count,
      mean: mean)
    restart()
    return detection
  }

  /// Forgets every value: the next one starts a new reference mean.
  public mutating func restart() {
    count = 0
    mean = 0
    squaredDeviations = 0
    increaseSum = 0
    increaseMinimum = 0
    decreaseSum = 0
    decreaseMaximum = 0
  }

  /// `deviation` in standard deviations (when standardised); 0 while the values seen are all
  /// equal up to rounding, so a constant stream never drifts.
  private func standardized(_ deviation: Double) -> Double {
    guard isStandardized else { return deviation }
    let deviationScale = standardDeviation
    guard deviationScale > 1e-9 * max(1, abs(mean)) else { return 0 }
    return deviation / deviationScale
  }
}
