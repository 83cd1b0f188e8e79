/// The exact area under the ROC curve, from ranks, with ties counted as half.
public enum AreaUnderCurve {
  /// The AUC of `scores` against `labels` (positive when >= 0.5), or nil when either class is
  /// absent.
  ///
  /// Scores are ranked ascending; tied scores share their average rank; then
  /// `AUC = (sum of positive ranks - P (P + 1) / 2) / (P N)`. This equals the probability that a
  /// random positive scores above a random negative, counting ties as 1/2.
  public static func exact<Scores: Collection<Float>, Labels: Collection<Float>>(
    scores: Scores, labels: Labels
  ) -> Double? {
    var pairs: [(score: Float, positive: Bool)] = []
    pairs.reserveCapacity(scores.count)
    for (score, label) in zip(scores, labels) { pairs.append((score, label >= 0.5)) }
    return exact(pairs: &pairs)
  }

  /// The AUC of `(score, isPositive)` pairs; sorts `pairs` in place.
  static func exact(pairs: inout [(score: Float, positive: Bool)]) -> Double? {
    let positives = pairs.reduce(0) { $0 + ($1.positive ? 1 : 0) }
    let negatives = pairs.count - positives
    if positives == 0 || negatives == 0 { return nil }
    pairs.sort { $0.score < $1.score }
    var positiveRankSum = 0.0
    var start = 0
    while start < pairs.count {
      var end = start
      var positivesInTie = 0
      while end < pairs.count && pairs[end].score == pairs[start].score {
        if pairs[end].positive { positivesInTie += 1 }
        end += 1
      }
      // Ranks start..<end (0-based) -> average 1-based rank.
      let averageRank = Double(start + end + 1) / 2
      positiveRankSum += averageRank * Double(positivesInTie)
      start = end
    }
    let p = Double(positives)
    return (positiveRankSum - p * (p + 1) / 2) / (p * Double(negatives))
  }
}
