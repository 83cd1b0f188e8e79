import Base
import Foundation
import Stream

/// The truth of a controlled experiment: which (region, month, genre) cells of the MovieLens
/// stream had their click probability moved, by how much, and which labels changed.
///
/// The rule, for a plan of N cells, shift δ logits and seed S:
/// - A cell is a region, a UTC calendar month and a genre (the item's first); its impressions are
///   the ratings at or after `plan.sinceMilliseconds` with those three values. Sampled negatives
///   are never in a cell and keep their label.
/// - Eligible cells have at least `plan.minimumImpressions` impressions and both clicks and
///   non-clicks. They are sorted by (month, region, genre), shuffled by a Fisher-Yates pass
///   driven by `SplitMix64(seed: S)`, and the first N are chosen: the cells of a smaller N are
///   among those of a larger one, and the choice does not depend on δ.
/// - In a cell of n impressions, k of them clicks (rating >= 4), the base rate is r = k/n and the
///   target rate t = σ(logit(r) + δ). For δ > 0 every click stays and every non-click becomes a
///   click with probability q = (t - r)/(1 - r); for δ < 0 every non-click stays and every click
///   becomes a non-click with probability q = (r - t)/r. So the cell's expected rate is t exactly,
///   and an impression whose click probability was p gets p + (1 - p)q (δ > 0) or p(1 - q)
///   (δ < 0): exactly δ logits at p = r, and the users' own preferences still count.
/// - The draw for the impression of data row R is u = the top 53 bits of the first output of
///   `SplitMix64(seed: S &+ R &* 0xD1B54A32D192ED03)` divided by 2^53; its label changes when
///   u < q. With δ = 0 nothing changes, and the events are those of the plain conversion.
public struct MovieLensEffects: Sendable, Equatable {
  /// One changed cell.
  public struct Cell: Sendable, Equatable {
    /// The region, as in the events (`0`-`9`, `ca`, `other`).
    public var region: String
    /// The UTC calendar month, such as `1998-02` (the window of a `domain.window = month` key).
    public var month: String
    /// The genre, as in the events' `genre` feature.
    public var genre: String
    /// Ids of the cell's impressions in stream order.
    public var impressionIDs: [String]
    /// Ids of the impressions whose label changed, in stream order.
    public var changedIDs: [String]
    /// Clicks among the impressions before the change (rating >= 4).
    public var baseClicks: Int
    /// Clicks among the impressions after the change.
    public var clicks: Int
    /// The probability q with which an eligible label changes (see the type's rule).
    public var changeProbability: Double
    /// The rate the rule aims at in expectation, σ(logit(base rate) + δ).
    public var targetRate: Double

    /// The cell's impressions.
    public var impressions: Int { impressionIDs.count }
    /// The click rate before the change.
    public var baseRate: Double { Double(baseClicks) / Double(impressions) }
    /// The click rate after the change.
    public var rate: Double { Double(clicks) / Double(impressions) }
  }

  /// The plan the effects were drawn from.
  public var plan: MovieLensEffectPlan
  /// How many cells were eligible for the choice.
  public var eligibleCells: Int
  /// The chosen cells, sorted by (month, region, genre).
  public var cells: [Cell]
  /// Data rows (as in the event ids `ml-R`) of every impression in a cell.
  let affectedRows: Set<Int>
  /// Data rows of the impressions whose label changed.
  let changedRows: Set<Int>

  init(
    plan: MovieLensEffectPlan, eligibleCells: Int, cells: [Cell], affectedRows: Set<Int>,
    changedRows: Set<Int>
  ) {
    self.plan = plan
    self.eligibleCells = eligibleCells
    self.cells = cells
    self.affectedRows = affectedRows
    self.changedRows = changedRows
  }

  /// Impressions in the cells.
  public var affectedImpressions: Int { affectedRows.count }
  /// Impressions whose label changed.
  public var changedLabels: Int { changedRows.count }

  /// The label of the rating in data row `row`, given its label in the plain conversion.
  func label(row: Int, original: Bool) -> Bool {
    changedRows.contains(row) ? !original : original
  }

  /// The uniform draw in [0, 1) of data row `row` under `seed`; see the type's rule.
  static func uniform(seed: UInt64, row: Int) -> Double {
    var random = SplitMix64(seed: seed &+ UInt64(row) &* 0xD1B5_4A32_D192_ED03)
    return Double(random.next() >> 11) * 0x1p-53
  }

  /// The probability with which an eligible label of a cell with base rate `rate` changes, for
  /// a shift of `logitShift`: (t - r)/(1 - r) upwards, (r - t)/r downwards, 0 for no shift.
  static func changeProbability(baseRate rate: Double, logitShift: Double) -> Double {
    let target = targetRate(baseRate: rate, logitShift: logitShift)
    if logitShift > 0 { return (target - rate) / (1 - rate) }
    if logitShift < 0 { return (rate - target) / rate }
    return 0
  }

  /// σ(logit(rate) + logitShift).
  static func targetRate(baseRate rate: Double, logitShift: Double) -> Double {
    1 / (1 + exp(-(log(rate / (1 - rate)) + logitShift)))
  }
}
