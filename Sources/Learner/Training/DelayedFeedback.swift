/// The importance weighting of a delayed-feedback mode (`label.mode = fake_negative | es_dfm`).
///
/// In those modes training sees a biased stream: every impression whose click has not come
/// within the observation window (`windowMs`; 0 with `fake_negative`) goes to training as a
/// negative, and its click, if it comes later, as a positive once more. For an impression with
/// click probability `p` whose click, given one, comes after the window with probability `f`
/// (so a "delayed positive" with probability `d = p * f`), the stream holds `1 + d` copies per
/// impression: positives with probability `p / (1 + d)`, negatives `(1 - p + d) / (1 + d)`.
/// Weighting each copy by the ratio of the true to the biased label probability makes the
/// expected weighted cross-entropy the one of the true labels:
///
/// - a positive: `w = 1 + d`;
/// - a negative: `w = (1 + d) (1 - p) / (1 - p + d)`.
///
/// With `fake_negative` every click comes after the (empty) window, `f = 1`, and the weights
/// are those of fake-negative weighting (Ktena et al. 2019): `1 + p` and `(1 + p)(1 - p)`. With
/// `es_dfm` (Yang et al. 2021) `f` is the domain's own share of clicks that came after the
/// window so far (`ClickDelays`), in place of the paper's auxiliary model. `p` is the kernel's
/// prediction for the example (z = mu) when its batch closes, held fixed through the batch's
/// steps (no gradient flows through a weight).
public struct DelayedFeedback: Sendable, Equatable {
  /// The observation window in milliseconds of event time: 0 for `fake_negative`.
  public var windowMs: Int64

  /// A weighting for an observation window of `windowMs` (negative counts as 0).
  public init(windowMs: Int64) {
    self.windowMs = max(0, windowMs)
  }

  /// The weight of a training copy with `label` (1 positive, 0 negative), when the model
  /// predicts `prediction` and a click comes after the window with probability
  /// `delayedFraction`. Both probabilities are clamped to [0, 1]; a negative the model is
  /// certain of (`p = 1`, `f = 0`) weighs 0.
  public static func importanceWeight(label: Float, prediction: Float, delayedFraction: Float)
    -> Float
  {
    let p = min(max(prediction, 0), 1)
    let delayed = p * min(max(delayedFraction, 0), 1)
    if label > 0.5 { return 1 + delayed }
    let denominator = 1 - p + delayed
    return denominator > 0 ? (1 + delayed) * (1 - p) / denominator : 0
  }

  /// The probability that a click of a domain with `delays` comes after the window (corrects a
  /// provisional negative): 1 with `fake_negative` (an empty window), else the domain's delayed
  /// share with one delayed and one prompt click added (1/2 before its first click).
  public func delayedFraction(of delays: ClickDelays) -> Float {
    guard windowMs > 0 else { return 1 }
    return Float(delays.delayed + 1) / Float(delays.clicks + 2)
  }
}

/// What a domain's training saw of click delays: the clicks it trained on, how many corrected a
/// provisional negative (came after the observation window), the provisional negatives, and a
/// histogram of the delays. The delayed share is what `DelayedFeedback.delayedFraction(of:)`
/// reads; all of it is state (in snapshots and hand-overs) and on /metrics per domain.
public struct ClickDelays: Sendable, Equatable {
  /// Upper bounds (inclusive) of the delay histogram's buckets, in seconds; a last bucket holds
  /// the longer delays.
  public static let bucketBounds: [Double] = [
    1, 5, 30, 60, 300, 900, 1_800, 3_600, 7_200, 21_600, 86_400,
  ]

  /// Positive training copies labelled by a click.
  public var clicks = 0
  /// Of those, the ones that corrected a provisional negative: fake negatives.
  public var delayed = 0
  /// Provisional negatives trained on.
  public var provisional = 0
  /// Clicks per delay bucket (`bucketBounds`, then one for longer delays).
  public var buckets = [Int](repeating: 0, count: ClickDelays.bucketBounds.count + 1)

  /// Creates counts; `buckets` must have `bucketBounds.count + 1` entries (nil: all zero).
  public init(clicks: Int = 0, delayed: Int = 0, provisional: Int = 0, buckets: [Int]? = nil) {
    self.clicks = clicks
    self.delayed = delayed
    self.provisional = provisional
    if let buckets, buckets.count == self.buckets.count { self.buckets = buckets }
  }

  /// Counts a click that came `delayMs` after its impression; `correctsProvisional` when the
  /// impression had gone to training as a provisional negative first.
  public mutating func recordClick(delayMs: Int64, correctsProvisional: Bool) {
    clicks += 1
    if correctsProvisional { delayed += 1 }
    let seconds = Double(delayMs) / 1_000
    buckets[Self.bucketBounds.firstIndex { seconds <= $0 } ?? Self.bucketBounds.count] += 1
  }

  /// Fake negatives over provisional negatives (nil before the first provisional negative).
  public var fakeNegativeRate: Double? {
    provisional > 0 ? Double(delayed) / Double(provisional) : nil
  }

  /// The upper bound of the bucket holding the `quantile` of the click delays, in seconds
  /// (infinity in the last bucket; nil before the first click).
  public func delayQuantile(_ quantile: Double) -> Double? {
    guard clicks > 0 else { return nil }
    let rank = max(1, quantile * Double(clicks))
    var seen = 0
    for (index, count) in buckets.enumerated().dropLast() {
      seen += count
      if Double(seen) >= rank { return Self.bucketBounds[index] }
    }
    return .infinity
  }
}
