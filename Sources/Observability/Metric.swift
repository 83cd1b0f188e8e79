import Synchronization

/// One labelled series of a family: a counter, a gauge or a histogram.
///
/// Which operations make sense depends on the family's type: counters `increment`, gauges `set`
/// (and `increment` by negative amounts), histograms `observe`.
public final class Metric: Sendable {
  /// What a reader sees at one moment: the value (a histogram's sum), and a histogram's count
  /// and buckets.
  struct State {
    var value: Double
    var count: UInt64
    var bucketCounts: [UInt64]
  }

  /// A histogram's count and buckets, kept under the lock.
  struct Buckets {
    var count: UInt64 = 0
    var bucketCounts: [UInt64]
  }

  /// The value's bits (`Double.bitPattern`): a counter's or gauge's value, a histogram's sum.
  /// Counters and gauges change it without the lock (the training thread sets several gauges
  /// for every event); a histogram changes it only under the lock, with its count and buckets,
  /// so that a reader holding the lock sees the three agree.
  private let bits = Atomic<UInt64>(0)
  private let storage: Mutex<Buckets>
  private let bounds: [Double]

  init(bounds: [Double]) {
    self.bounds = bounds
    storage = Mutex(Buckets(bucketCounts: Array(repeating: 0, count: bounds.count)))
  }

  /// Adds `amount` (1 by default).
  public func increment(by amount: Double = 1) {
    add(amount)
  }

  /// Replaces the value.
  public func set(_ value: Double) {
    bits.store(value.bitPattern, ordering: .releasing)
  }

  /// Records `count` observations of `value` (1 by default) into the histogram buckets, the
  /// sum and the count.
  public func observe(_ value: Double, count: Int = 1) {
    guard count > 0 else { return }
    storage.withLock { buckets in
      add(value * Double(count))
      buckets.count += UInt64(count)
      if let index = bounds.firstIndex(where: { value <= $0 }) {
        buckets.bucketCounts[index] += UInt64(count)
      }
    }
  }

  /// The current value (for histograms, the sum of observations).
  public var value: Double { Double(bitPattern: bits.load(ordering: .acquiring)) }

  /// The number of observations (histograms only).
  public var count: UInt64 { storage.withLock { $0.count } }

  var state: State {
    storage.withLock { State(value: value, count: $0.count, bucketCounts: $0.bucketCounts) }
  }

  /// Adds `amount` to the value: a compare-and-exchange loop, so that concurrent additions all
  /// count.
  private func add(_ amount: Double) {
    var current = bits.load(ordering: .relaxed)
    while true {
      let next = (Double(bitPattern: current) + amount).bitPattern
      let (exchanged, original) = bits.weakCompareExchange(
        expected: current, desired: next, successOrdering: .acquiringAndReleasing,
        failureOrdering: .relaxed)
      if exchanged { return }
      current = original
    }
  }
}
