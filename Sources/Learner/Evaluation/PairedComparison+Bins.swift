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
  /// Which scorer's logits a `BinTable` counts.
  enum Scorer {
    case kernel
    case backbone
  }

  /// One scorer's logits binned (`bin(_:)`) with each bin's positives and negatives, and the
  /// counts below and above it: what DeLong's structural components of every example read.
  struct BinTable {
    /// Per example, its bin minus `lowest` (the bins the examples span, from 0).
    private var bins: [Int32]
    /// Per bin, the structural component of a positive in it (the share of negatives below,
    /// ties 1/2) and of a negative (the share of positives above): computed once a bin, not
    /// once an example.
    private var forPositive: [Double]
    private var forNegative: [Double]

    /// Bins `scorer`'s logits of `examples`, of which `positives` are positive.
    init(_ examples: some PairedExamples, positives: Int, scorer: Scorer) {
      let total = examples.count
      let negatives = total - positives
      bins = [Int32](repeating: 0, count: total)
      var lowest = binCount
      var highest = -1
      for index in 0..<total {
        let bin = scorer == .kernel ? examples.kernelBin(index) : examples.backboneBin(index)
        bins[index] = Int32(bin)
        lowest = min(lowest, bin)
        highest = max(highest, bin)
      }
      // Counts over the bins from `lowest` to `highest` only (a window's logits span a few of
      // the 4,096): the same counts, shifted by `lowest`.
      let span = max(0, highest - lowest + 1)
      var positivesIn = [Int32](repeating: 0, count: span)
      var negativesIn = [Int32](repeating: 0, count: span)
      for index in 0..<total {
        let bin = Int(bins[index]) - lowest
        bins[index] = Int32(bin)
        if examples.isPositive(index) {
          positivesIn[bin] += 1
        } else {
          negativesIn[bin] += 1
        }
      }
      forPositive = [Double](repeating: 0, count: span)
      forNegative = [Double](repeating: 0, count: span)
      var negativesBelow = 0
      for bin in 0..<span {
        forPositive[bin] =
          (Double(negativesBelow) + 0.5 * Double(negativesIn[bin])) / Double(negatives)
        negativesBelow += Int(negativesIn[bin])
      }
      var positivesAbove = 0
      for bin in stride(from: span - 1, through: 0, by: -1) {
        forNegative[bin] =
          (Double(positivesAbove) + 0.5 * Double(positivesIn[bin])) / Double(positives)
        positivesAbove += Int(positivesIn[bin])
      }
    }

    /// Example `index`'s structural component: for a positive, the share of negatives scored
    /// below it; for a negative, the share of positives scored above it; a tie counts 1/2.
    func component(of index: Int, isPositive: Bool) -> Double {
      let bin = Int(bins[index])
      return isPositive ? forPositive[bin] : forNegative[bin]
    }
  }
}
