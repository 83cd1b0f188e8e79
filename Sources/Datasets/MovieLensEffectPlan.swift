/// What known domain effect to inject into the MovieLens stream: how many (region, month, genre)
/// cells, how far to move their click probability in logits, and the seed that chooses the cells
/// and draws the new labels; see `MovieLensEffects` for the rule.
public struct MovieLensEffectPlan: Sendable, Equatable {
  /// The largest shift allowed, in logits: ±5 takes a 50% click rate to 0.7% or 99.3%, already
  /// far beyond any domain effect a recommender meets.
  public static let maxLogitShift = 5.0

  /// 1998-01-01T00:00:00Z, where the stream after the pre-training period starts.
  public static let defaultSinceMilliseconds: Int64 = 883_612_800_000

  /// Cells to change (0 changes nothing).
  public var cellCount: Int
  /// The shift of the click probability in logits at the cell's base rate (+1.0: more clicks).
  public var logitShift: Double
  /// The seed of the cell choice and of the label draws.
  public var seed: UInt64
  /// Only impressions at or after this event time (epoch milliseconds) belong to a cell.
  public var sinceMilliseconds: Int64
  /// The fewest impressions (at or after `sinceMilliseconds`) a cell needs to be chosen.
  public var minimumImpressions: Int

  /// Creates a plan; by default cells of at least 200 impressions from 1998-01-01 UTC on.
  public init(
    cellCount: Int, logitShift: Double, seed: UInt64 = 1,
    sinceMilliseconds: Int64 = MovieLensEffectPlan.defaultSinceMilliseconds,
    minimumImpressions: Int = 200
  ) {
    self.cellCount = cellCount
    self.logitShift = logitShift
    self.seed = seed
    self.sinceMilliseconds = sinceMilliseconds
    self.minimumImpressions = minimumImpressions
  }

  /// Checks the values that do not depend on the data.
  ///
  /// - Throws: `MovieLensError` naming the value that is out of range and the allowed range.
  public func validate() throws(MovieLensError) {
    guard cellCount >= 0 else {
      throw MovieLensError("the number of effect cells must be 0 or more, got \(cellCount)")
    }
    guard logitShift.isFinite, abs(logitShift) <= Self.maxLogitShift else {
      throw MovieLensError(
        "the effect size must be a number of logits from -\(Self.maxLogitShift) to "
          + "\(Self.maxLogitShift) (such as 1.0 or -1.0), got \(logitShift)")
    }
    guard minimumImpressions >= 1 else {
      throw MovieLensError(
        "the minimum impressions per effect cell must be at least 1, got \(minimumImpressions)")
    }
  }
}
