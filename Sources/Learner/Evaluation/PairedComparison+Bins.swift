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

    /// Calls `body` with each position, oldest first: no ring arithmetic per read. Inlined, so
    /// that the sums `body` adds to stay in registers.
    @inline(__always)
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

  /// One scorer's structural components, read by an example's key for that scorer
  /// (`key(bin:isPositive:)`): of a positive (odd keys), the share of negatives scored below
  /// it, ties (the same bin) 1/2; of a negative (even keys), the share of positives scored
  /// above it. Only the keys some example has are set.
  struct Components {
    /// The values by key, from `lowest` on.
    let values: UnsafeMutablePointer<Double>
    /// The lowest key the table covers (even).
    let lowest: Int

    /// The component of an example with `key`.
    @inline(__always)
    func callAsFunction(_ key: Int16) -> Double { values[Int(key) - lowest] }
  }

  /// Calls `body` with the kernel's and the backbone's structural components (`Components`),
  /// read by keys of the examples only (a table covers the keys they span). `positives` and
  /// `negatives` count the examples of each class (both at least 1 when there are examples;
  /// with none there is no key to read).
  ///
  /// Computed once a bin, not once an example, over the bins the examples span only (a
  /// window's logits span a few of the 4,096), and only for the keys some example has: a wide
  /// span with a few outliers costs a count per bin, not a division. Both scorers are done in
  /// the same passes: one finds the keys spanned, one counts them.
  static func withComponents<Result>(
    of examples: Examples, positives: Int, negatives: Int,
    _ body: (_ kernel: Components, _ backbone: Components) -> Result
  ) -> Result {
    let keys = examples.keys
    var lowestKernel = Int16.max
    var highestKernel = Int16.min
    var lowestBackbone = Int16.max
    var highestBackbone = Int16.min
    examples.forEachPosition { position in
      let kernelKey = keys[2 * position]
      let backboneKey = keys[2 * position + 1]
      lowestKernel = min(lowestKernel, kernelKey)
      highestKernel = max(highestKernel, kernelKey)
      lowestBackbone = min(lowestBackbone, backboneKey)
      highestBackbone = max(highestBackbone, backboneKey)
    }
    guard lowestKernel <= highestKernel else {
      // No example: tables of one key each, never read.
      return withUnsafeTemporaryAllocation(of: Double.self, capacity: 1) { empty in
        empty[0] = .nan
        let none = Components(values: empty.baseAddress!, lowest: 0)
        return body(none, none)
      }
    }
    let kernelLowest = Int(lowestKernel) & ~1
    let kernelKeys = (Int(highestKernel) | 1) - kernelLowest + 1
    let backboneLowest = Int(lowestBackbone) & ~1
    let backboneKeys = (Int(highestBackbone) | 1) - backboneLowest + 1
    return withUnsafeTemporaryAllocation(of: Int32.self, capacity: kernelKeys + backboneKeys) {
      counts in
      // Per key: negatives in the bin at even keys, positives at odd ones; the kernel's keys
      // first, then the backbone's.
      counts.initialize(repeating: 0)
      let kernelCounts = counts.baseAddress! - kernelLowest
      let backboneCounts = counts.baseAddress! + kernelKeys - backboneLowest
      examples.forEachPosition { position in
        kernelCounts[Int(keys[2 * position])] += 1
        backboneCounts[Int(keys[2 * position + 1])] += 1
      }
      return withUnsafeTemporaryAllocation(of: Double.self, capacity: kernelKeys + backboneKeys) {
        values in
        let kernel = Components(values: values.baseAddress!, lowest: kernelLowest)
        let backbone = Components(values: values.baseAddress! + kernelKeys, lowest: backboneLowest)
        fill(
          kernel.values, counts: UnsafePointer(counts.baseAddress!), bins: kernelKeys / 2,
          positives: positives, negatives: negatives)
        fill(
          backbone.values, counts: UnsafePointer(counts.baseAddress! + kernelKeys),
          bins: backboneKeys / 2, positives: positives, negatives: negatives)
        return body(kernel, backbone)
      }
    }
  }

  /// Writes the components of the keys counted in `counts` (two a bin: negatives, positives)
  /// into `values`; only the keys counted are written, and only they are read.
  private static func fill(
    _ values: UnsafeMutablePointer<Double>, counts: UnsafePointer<Int32>, bins: Int,
    positives: Int, negatives: Int
  ) {
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
  }
}
