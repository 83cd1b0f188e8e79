/// Where a `PairedComparison` reads its examples: by position, oldest first.
protocol PairedExamples {
  /// Examples held.
  var count: Int { get }
  /// The kernel's logit on example `index`.
  func kernel(_ index: Int) -> Float
  /// The backbone's logit on example `index`.
  func backbone(_ index: Int) -> Float
  /// Whether example `index` was clicked.
  func isPositive(_ index: Int) -> Bool
  /// The kernel's log loss on example `index`.
  func kernelLoss(_ index: Int) -> Float
  /// The backbone's log loss on example `index`.
  func backboneLoss(_ index: Int) -> Float
  /// `PairedComparison.bin(_:)` of the kernel's logit on example `index`.
  func kernelBin(_ index: Int) -> Int
  /// `PairedComparison.bin(_:)` of the backbone's logit on example `index`.
  func backboneBin(_ index: Int) -> Int
}

extension PairedExamples {
  /// Binned when asked, where the examples keep no bins.
  func kernelBin(_ index: Int) -> Int { PairedComparison.bin(kernel(index)) }
  func backboneBin(_ index: Int) -> Int { PairedComparison.bin(backbone(index)) }
}

/// Examples held as one array per figure.
struct PairedArrays: PairedExamples {
  let kernels: [Float]
  let backbones: [Float]
  let labels: [Bool]
  let kernelLosses: [Float]
  let backboneLosses: [Float]

  init(
    kernel: [Float], backbone: [Float], labels: [Bool], kernelLosses: [Float],
    backboneLosses: [Float]
  ) {
    kernels = kernel
    backbones = backbone
    self.labels = labels
    self.kernelLosses = kernelLosses
    self.backboneLosses = backboneLosses
  }

  var count: Int { labels.count }
  func kernel(_ index: Int) -> Float { kernels[index] }
  func backbone(_ index: Int) -> Float { backbones[index] }
  func isPositive(_ index: Int) -> Bool { labels[index] }
  func kernelLoss(_ index: Int) -> Float { kernelLosses[index] }
  func backboneLoss(_ index: Int) -> Float { backboneLosses[index] }
}

extension PairedComparison {
  /// One scorer's logits binned (`bin(_:)`) with each bin's positives and negatives, and the
  /// counts below and above it: what DeLong's structural components of every example read.
  struct BinTable {
    /// Per example, its key: twice its bin minus `lowest` (the bins the examples span, from
    /// 0), plus 1 for a positive. One load finds its component, whatever its class.
    private var keys: [Int32]
    /// Per key, the structural component: of a positive in the bin (odd keys), the share of
    /// negatives below it, ties 1/2; of a negative (even keys), the share of positives above
    /// it. Computed once a bin, not once an example.
    private var components: [Double]

    /// The kernel's and the backbone's tables of `examples`, of which `positives` are
    /// positive, reading the examples once for both.
    static func pair(_ examples: some PairedExamples, positives: Int) -> (
      kernel: BinTable, backbone: BinTable
    ) {
      let total = examples.count
      var kernelSpan = BinSpan()
      var backboneSpan = BinSpan()
      var kernelKeys: [Int32] = []
      kernelKeys.reserveCapacity(total)
      var backboneKeys: [Int32] = []
      backboneKeys.reserveCapacity(total)
      for index in 0..<total {
        let isPositive = examples.isPositive(index)
        kernelKeys.append(kernelSpan.key(examples.kernelBin(index), isPositive: isPositive))
        backboneKeys.append(backboneSpan.key(examples.backboneBin(index), isPositive: isPositive))
      }
      let negatives = total - positives
      return (
        BinTable(
          keys: kernelKeys, spanning: kernelSpan, positives: positives, negatives: negatives),
        BinTable(
          keys: backboneKeys, spanning: backboneSpan, positives: positives, negatives: negatives)
      )
    }

    /// The bins a scorer's examples span, found as their keys are made.
    private struct BinSpan {
      var lowest = binCount
      var highest = -1

      /// The key of an example in `bin` before the shift by `lowest`: twice the bin, plus 1 for
      /// a positive.
      mutating func key(_ bin: Int, isPositive: Bool) -> Int32 {
        lowest = min(lowest, bin)
        highest = max(highest, bin)
        return Int32(2 * bin + (isPositive ? 1 : 0))
      }
    }

    /// The table of `keys` (unshifted) spanning `range`.
    private init(keys unshifted: [Int32], spanning range: BinSpan, positives: Int, negatives: Int) {
      keys = unshifted
      // Counts over the bins from `lowest` to `highest` only (a window's logits span a few of
      // the 4,096): the same counts, shifted by `lowest`. Per key: negatives in the bin at
      // even keys, positives at odd ones.
      let span = max(0, range.highest - range.lowest + 1)
      let shift = Int32(2 * range.lowest)
      var counts = [Int32](repeating: 0, count: 2 * span)
      for index in keys.indices {
        let key = keys[index] - shift
        keys[index] = key
        counts[Int(key)] += 1
      }
      components = [Double](repeating: 0, count: 2 * span)
      var negativesBelow = 0
      for bin in 0..<span {
        let negativesIn = counts[2 * bin]
        components[2 * bin + 1] =
          (Double(negativesBelow) + 0.5 * Double(negativesIn)) / Double(negatives)
        negativesBelow += Int(negativesIn)
      }
      var positivesAbove = 0
      for bin in stride(from: span - 1, through: 0, by: -1) {
        let positivesIn = counts[2 * bin + 1]
        components[2 * bin] =
          (Double(positivesAbove) + 0.5 * Double(positivesIn)) / Double(positives)
        positivesAbove += Int(positivesIn)
      }
    }

    /// Example `index`'s structural component: for a positive, the share of negatives scored
    /// below it; for a negative, the share of positives scored above it; a tie counts 1/2.
    func component(of index: Int) -> Double { components[Int(keys[index])] }
  }
}
