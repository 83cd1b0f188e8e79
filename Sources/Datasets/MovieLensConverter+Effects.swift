import Base
import Stream

extension MovieLensConverter {
  /// Chooses the cells of `plan` and draws their new labels, by the rule `MovieLensEffects`
  /// describes; pass the result to `forEachEvent(options:effects:_:)` to emit the events.
  ///
  /// - Throws: `MovieLensError` if a value of `plan` is out of range, or if it asks for more
  ///   cells than the data has eligible ones (the message says how many there are).
  public func effects(_ plan: MovieLensEffectPlan) throws(MovieLensError) -> MovieLensEffects {
    try plan.validate()
    var groups: [CellKey: [Rating]] = [:]
    for rating in ratings where rating.timeMilliseconds >= plan.sinceMilliseconds {
      let key = CellKey(
        month: Self.month(ofMilliseconds: rating.timeMilliseconds),
        region: users[rating.user]!.region, genre: items[rating.item]!.genre)
      groups[key, default: []].append(rating)
    }
    var eligible = groups.filter { _, ratings in
      let clicks = ratings.count { $0.isPositive }
      return ratings.count >= plan.minimumImpressions && clicks > 0 && clicks < ratings.count
    }.keys.sorted()
    guard plan.cellCount <= eligible.count else {
      throw MovieLensError(
        "asked for \(plan.cellCount) effect cells but only \(eligible.count) (region, month, "
          + "genre) cells have at least \(plan.minimumImpressions) impressions at or after "
          + "\(plan.sinceMilliseconds) ms with both clicks and non-clicks; ask for fewer cells, "
          + "lower the minimum impressions or move the start earlier")
    }
    var random = SplitMix64(seed: plan.seed)
    for index in eligible.indices.dropLast().reversed() {
      eligible.swapAt(index + 1, random.index(below: index + 2))
    }
    var cells: [MovieLensEffects.Cell] = []
    var affectedRows: Set<Int> = []
    var changedRows: Set<Int> = []
    for key in eligible.prefix(plan.cellCount).sorted() {
      let members = groups[key]!
      let baseClicks = members.count { $0.isPositive }
      let baseRate = Double(baseClicks) / Double(members.count)
      let probability = MovieLensEffects.changeProbability(
        baseRate: baseRate, logitShift: plan.logitShift)
      var changed: [String] = []
      for rating in members {
        affectedRows.insert(rating.row)
        let isEligible = plan.logitShift > 0 ? !rating.isPositive : rating.isPositive
        if isEligible && MovieLensEffects.uniform(seed: plan.seed, row: rating.row) < probability {
          changed.append("ml-\(rating.row)")
          changedRows.insert(rating.row)
        }
      }
      let clicks = plan.logitShift > 0 ? baseClicks + changed.count : baseClicks - changed.count
      cells.append(
        MovieLensEffects.Cell(
          region: key.region, month: key.month, genre: key.genre,
          impressionIDs: members.map { "ml-\($0.row)" }, changedIDs: changed,
          baseClicks: baseClicks, clicks: clicks, changeProbability: probability,
          targetRate: MovieLensEffects.targetRate(
            baseRate: baseRate, logitShift: plan.logitShift)))
    }
    return MovieLensEffects(
      plan: plan, eligibleCells: eligible.count, cells: cells, affectedRows: affectedRows,
      changedRows: changedRows)
  }

  /// The UTC calendar month of an event time, such as `1998-02`.
  static func month(ofMilliseconds milliseconds: Int64) -> String {
    let date = EventTime.civilDate(
      daysSinceEpoch: EventTime.floorDivide(milliseconds, 86_400_000))
    return "\(date.year)-" + (date.month < 10 ? "0" : "") + "\(date.month)"
  }
}

/// A (month, region, genre) cell, ordered by those three.
private struct CellKey: Hashable, Comparable {
  var month: String
  var region: String
  var genre: String

  static func < (lhs: CellKey, rhs: CellKey) -> Bool {
    (lhs.month, lhs.region, lhs.genre) < (rhs.month, rhs.region, rhs.genre)
  }
}
