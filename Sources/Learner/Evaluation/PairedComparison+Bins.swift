extension PairedComparison {
  /// The examples a comparison reads, held in place: the example at position `p` has the
  /// kernel's and the backbone's log loss at `losses[2 * p]` and `losses[2 * p + 1]`, and their
  /// keys (`key(bin:isPositive:)`) at `keys[2 * p]` and `keys[2 * p + 1]`. The examples are the
  /// positions of `runs.0` and then of `runs.1`, oldest first: a ring's two runs, or one.
  struct Examples {
    let losses: UnsafeBufferPointer<Float>
    let keys: UnsafeBufferPointer<Int16>
    let runs: (Range<Int>, Range<Int>)

    /// Examples read.
    var count: Int { runs.0.count + runs.1.count }

    /// Calls `body` with each position, oldest first: no ring arithmetic per read.
    func forEachPosition(_ body: (Int) -> Void) {
      for position in runs.0 { body(position) }
      for position in runs.1 { body(position) }
    }

    /// How many of the examples are positive.
    func positives() -> Int {
      var count = 0
      forEachPosition { count += Int(keys[2 * $0] & 1) }
      return count
    }
  }

  /// An example's key for one scorer: twice its logit's bin (`bin(_:)`), plus 1 for a positive.
  /// One load then finds its structural component, whatever its class.
  static func key(bin: Int, isPositive: Bool) -> Int16 {
    Int16(2 * bin + (isPositive ? 1 : 0))
  }

  /// Calls `body` with one scorer's structural components, read by key (`key` must be one of
  /// the examples'): of a positive (odd keys), the share of negatives scored below it, ties (the
  /// same bin) 1/2; of a negative (even keys), the share of positives scored above it.
  /// `scorer` is 0 for the kernel, 1 for the backbone; `positives` and `negatives` count the
  /// examples of each class (both at least 1).
  ///
  /// Computed once a bin, not once an example, over the bins the examples span only (a
  /// window's logits span a few of the 4,096), and only for the keys some example has: a wide
  /// span with a few outliers costs a count per bin, not a division.
  static func withComponents<Result>(
    of examples: Examples, scorer: Int, positives: Int, negatives: Int,
    _ body: (_ component: (Int16) -> Double) -> Result
  ) -> Result {
    let keys = examples.keys
    var lowestKey = Int16.max
    var highestKey = Int16.min
    examples.forEachPosition { position in
      let key = keys[2 * position + scorer]
      lowestKey = min(lowestKey, key)
      highestKey = max(highestKey, key)
    }
    guard lowestKey <= highestKey else { return body { _ in .nan } }
    let lowest = Int(lowestKey) & ~1
    let bins = ((Int(highestKey) | 1) - lowest + 1) / 2
    return withUnsafeTemporaryAllocation(of: Int32.self, capacity: 2 * bins) { counts in
      // Per key: negatives in the bin at even keys, positives at odd ones.
      counts.initialize(repeating: 0)
      examples.forEachPosition { counts[Int(keys[2 * $0 + scorer]) - lowest] += 1 }
      return withUnsafeTemporaryAllocation(of: Double.self, capacity: 2 * bins) { values in
        // Only the keys counted are written, and only they are read.
        var negativesBelow = 0
        for bin in 0..<bins {
          let negativesIn = counts[2 * bin]
          if counts[2 * bin + 1] > 0 {
            values[2 * bin + 1] =
              (Double(negativesBelow) + 0.5 * Double(negativesIn)) / Double(negatives)
          }
          negativesBelow += Int(negativesIn)
        }
        var positivesAbove = 0
        for bin in stride(from: bins - 1, through: 0, by: -1) {
          let positivesIn = counts[2 * bin + 1]
          if counts[2 * bin] > 0 {
            values[2 * bin] =
              (Double(positivesAbove) + 0.5 * Double(positivesIn)) / Double(positives)
          }
          positivesAbove += Int(positivesIn)
        }
        return body { values[Int($0) - lowest] }
      }
    }
  }
}
