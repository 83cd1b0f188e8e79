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
    var keys: [UInt64] = []
    keys.reserveCapacity(scores.count)
    for (score, label) in zip(scores, labels) { keys.append(key(score, isPositive: label >= 0.5)) }
    return exact(keys: &keys)
  }

  /// The sort key of one example: its score's bits turned so that unsigned order is the
  /// scores' order (`-0` as `+0`, so that scores equal under `==` share a key), shifted left
  /// once, with its label in the low bit. Sorting the keys ranks the scores ascending and keeps
  /// tied scores together, as a sort of the scores would, without comparing pairs of floats.
  /// A NaN sorts beyond the infinity of its sign, tied only with NaNs of its own bits.
  @inline(__always)
  static func key(_ score: Float, isPositive: Bool) -> UInt64 {
    let bits = (score == 0 ? 0 : score).bitPattern
    let ordered = bits & 0x8000_0000 != 0 ? ~bits : bits | 0x8000_0000
    return UInt64(ordered) << 1 | (isPositive ? 1 : 0)
  }

  /// The AUC of examples given by their `key(_:isPositive:)`; sorts `keys` in place.
  static func exact(keys: inout [UInt64]) -> Double? {
    var positives = 0
    for key in keys { positives += Int(key & 1) }
    let negatives = keys.count - positives
    if positives == 0 || negatives == 0 { return nil }
    sortKeys(&keys)
    var positiveRankSum = 0.0
    var start = 0
    while start < keys.count {
      let score = keys[start] >> 1
      var end = start
      var positivesInTie = 0
      while end < keys.count && keys[end] >> 1 == score {
        positivesInTie += Int(keys[end] & 1)
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

  /// Sorts keys of `key(_:isPositive:)` (33 bits) ascending: from 256 keys on a radix sort,
  /// three stable passes of 11 bits each (`sort()` below that). The order is the one `sort()`
  /// gives (equal keys are the same value). A metrics refresh ranks a 2,000-example window per
  /// changed domain, where comparing pairs was 4.2% of serve's training thread in a profile.
  static func sortKeys(_ keys: inout [UInt64]) {
    let count = keys.count
    if count < 256 {
      keys.sort()
      return
    }
    let digits = 1 << 11
    var spare = [UInt64](repeating: 0, count: count)
    var starts = [Int](repeating: 0, count: digits)
    keys.withUnsafeMutableBufferPointer { keys in
      spare.withUnsafeMutableBufferPointer { spare in
        starts.withUnsafeMutableBufferPointer { starts in
          var source = keys
          var target = spare
          for pass in 0..<3 {
            let shift = UInt64(11 * pass)
            let mask = UInt64(digits - 1)
            starts.update(repeating: 0)
            for key in source { starts[Int((key >> shift) & mask)] += 1 }
            var total = 0
            for digit in 0..<digits {
              let many = starts[digit]
              starts[digit] = total
              total += many
            }
            for key in source {
              let digit = Int((key >> shift) & mask)
              target[starts[digit]] = key
              starts[digit] += 1
            }
            swap(&source, &target)
          }
          // Three passes leave the sorted keys in `spare`.
          keys.baseAddress!.update(from: source.baseAddress!, count: count)
        }
      }
    }
  }
}
