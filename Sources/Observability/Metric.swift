import Synchronization

/// One labelled series of a family: a counter, a gauge or a histogram.
///
/// Which operations make sense depends on the family's type: counters `increment`, gauges `set`
/// (and `increment` by negative amounts), histograms `observe`.
public final class Metric: Sendable {
  struct State {
    var value: Double = 0
    var count: UInt64 = 0
    var bucketCounts: [UInt64]
  }

  private let storage: Mutex<State>
  private let bounds: [Double]

  init(bounds: [Double]) {
    self.bounds = bounds
    storage = Mutex(State(bucketCounts: Array(repeating: 0, count: bounds.count)))
  }

  /// Adds `amount` (1 by default).
  public func increment(by amount: Double = 1) {
    storage.withLock { $0.value += amount }
  }

  /// Replaces the value.
  public func set(_ value: Double) {
    storage.withLock { $0.value = value }
  }

  /// Records `count` observations of `value` (1 by default) into the histogram buckets, the
  /// sum and the count.
  public func observe(_ value: Double, count: Int = 1) {
    guard count > 0 else { return }
    storage.withLock { state in
      state.value += value * Double(count)
      state.count += UInt64(count)
      if let index = bounds.firstIndex(where: { value <= $0 }) {
        state.bucketCounts[index] += UInt64(count)
      }
    }
  }

  /// The current value (for histograms, the sum of observations).
  public var value: Double { storage.withLock { $0.value } }

  /// The number of observations (histograms only).
  public var count: UInt64 { storage.withLock { $0.count } }

  var state: State { storage.withLock { $0 } }
}
