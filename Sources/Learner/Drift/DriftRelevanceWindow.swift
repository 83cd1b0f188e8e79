import Foundation

/// The last `capacity` examples of a domain with exact windowed cross-entropies of the kernel and
/// the backbone, and the relevance proxies `H(Y) - CE` in bits computed from them.
///
/// The sums are kept incrementally and recomputed from the stored examples each time the ring
/// wraps, so rounding never accumulates beyond one window.
public struct DriftRelevanceWindow: Sendable, Equatable {
  /// Examples the window holds when full.
  public let capacity: Int
  /// Per slot: kernel loss, backbone loss, label (three values per slot, in ring order). It
  /// grows with the examples up to `capacity` slots, so a quiet domain holds only what it saw.
  var slots: [Double] = []
  /// The slot the next example goes to.
  var next = 0
  /// Examples held (at most `capacity`).
  public internal(set) var count = 0
  /// Sums of the held kernel losses, backbone losses and labels.
  var kernelLossSum = 0.0
  var backboneLossSum = 0.0
  var labelSum = 0.0

  /// Creates an empty window of `capacity` examples (at least 1).
  public init(capacity: Int) {
    self.capacity = max(1, capacity)
  }

  /// Whether the window holds `capacity` examples.
  public var isFull: Bool { count == capacity }

  /// The share of clicks in the window.
  public var clickRate: Double { count > 0 ? labelSum / Double(count) : 0 }

  /// The kernel's mean cross-entropy over the window, in nats.
  public var kernelCrossEntropy: Double { count > 0 ? kernelLossSum / Double(count) : 0 }

  /// The backbone's mean cross-entropy over the window, in nats.
  public var backboneCrossEntropy: Double { count > 0 ? backboneLossSum / Double(count) : 0 }

  /// The entropy of the window's labels, in bits (0 when all are equal).
  public var labelEntropyBits: Double {
    let p = min(max(clickRate, 0), 1)
    guard p > 0, p < 1 else { return 0 }
    return -(p * log2(p) + (1 - p) * log2(1 - p))
  }

  /// `H(Y) - CE` of the kernel over the window, in bits (a lower bound of I(Z;Y)).
  public var kernelRelevanceBits: Double { labelEntropyBits - kernelCrossEntropy / M_LN2 }

  /// `H(Y) - CE` of the backbone over the window, in bits.
  public var backboneRelevanceBits: Double { labelEntropyBits - backboneCrossEntropy / M_LN2 }

  /// The held examples, oldest first.
  public var examples: [DriftExample] {
    let start = isFull ? next : 0
    return (0..<count).map { offset in
      let slot = 3 * ((start + offset) % capacity)
      return DriftExample(
        kernelLoss: slots[slot], backboneLoss: slots[slot + 1], label: slots[slot + 2])
    }
  }

  /// Adds an example, dropping the oldest when full.
  public mutating func append(_ example: DriftExample) {
    let slot = 3 * next
    if isFull {
      kernelLossSum -= slots[slot]
      backboneLossSum -= slots[slot + 1]
      labelSum -= slots[slot + 2]
    } else {
      count += 1
    }
    if slot == slots.count {
      if slots.count + 3 > slots.capacity {
        // Grown by doubling, but never past the window.
        slots.reserveCapacity(min(3 * capacity, max(48, 2 * slots.count)))
      }
      slots += [example.kernelLoss, example.backboneLoss, example.label]
    } else {
      slots[slot] = example.kernelLoss
      slots[slot + 1] = example.backboneLoss
      slots[slot + 2] = example.label
    }
    kernelLossSum += example.kernelLoss
    backboneLossSum += example.backboneLoss
    labelSum += example.label
    next += 1
    if next == capacity {
      next = 0
      recomputeSums()
    }
  }

  /// Empties the window.
  public mutating func removeAll() {
    slots.removeAll(keepingCapacity: true)
    next = 0
    count = 0
    kernelLossSum = 0
    backboneLossSum = 0
    labelSum = 0
  }

  /// Sets the sums to the exact sums of the held examples.
  mutating func recomputeSums() {
    kernelLossSum = 0
    backboneLossSum = 0
    labelSum = 0
    for index in 0..<count {
      kernelLossSum += slots[3 * index]
      backboneLossSum += slots[3 * index + 1]
      labelSum += slots[3 * index + 2]
    }
  }
}
