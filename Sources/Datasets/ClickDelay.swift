import Base
import Foundation
import Stream

/// How long after its impression a split click happens, in event time.
///
/// `fixed` gives every click the same delay (MovieLens' conversion uses 5 s). `logNormal` draws
/// each click's delay on its own: the natural logarithm of the delay in milliseconds is normal
/// with mean `ln(median)` and standard deviation `sigma`, so half the clicks come within the
/// median and the rest spread over a long tail (with a median of 10 minutes and `sigma` 2, about
/// 9 in 10 clicks come within 2 hours and about 1 in 150 after a day). A click's draw depends
/// only on `seed` and its rating's data row, so the same seed gives the same delays whatever
/// else the conversion does, and every delay is at least 1 ms.
public enum ClickDelay: Sendable, Equatable {
  /// Every click `milliseconds` after its impression.
  case fixed(milliseconds: Int64)
  /// Log-normal delays around `medianMilliseconds` with log standard deviation `sigma`.
  case logNormal(medianMilliseconds: Int64, sigma: Double, seed: UInt64)

  /// The delay of the click of the rating in data row `row` (1-based), in milliseconds.
  public func milliseconds(row: Int) -> Int64 {
    switch self {
    case .fixed(let milliseconds):
      return milliseconds
    case .logNormal(let median, let sigma, let seed):
      let logDelay =
        Foundation.log(Double(max(median, 1))) + sigma * Self.normal(seed: seed, row: row)
      // A day is 8.64e7 ms; 1e15 ms (some 30,000 years) keeps the sum with any event time finite.
      let delay = min(Foundation.exp(logDelay), 1e15)
      return max(1, Int64(delay.rounded()))
    }
  }

  /// Checks the parameters: a fixed delay of at least 0, a median of at least 1 ms and a finite
  /// `sigma` from 0 to 10.
  ///
  /// - Throws: `MovieLensError` saying which parameter is out of range.
  public func validate() throws(MovieLensError) {
    switch self {
    case .fixed(let milliseconds):
      guard milliseconds >= 0 else {
        throw MovieLensError("a click delay cannot be negative (got \(milliseconds) ms)")
      }
    case .logNormal(let median, let sigma, _):
      guard median >= 1 else {
        throw MovieLensError("a log-normal click delay needs a median of at least 1 ms")
      }
      guard sigma.isFinite, sigma >= 0, sigma <= 10 else {
        throw MovieLensError("a log-normal click delay needs a sigma from 0 to 10 (got \(sigma))")
      }
    }
  }

  /// A standard normal draw for `row` under `seed` (Box-Muller on two uniforms in (0, 1)).
  static func normal(seed: UInt64, row: Int) -> Double {
    var random = SplitMix64(seed: seed &* 0x9E37_79B9_7F4A_7C15 &+ UInt64(row))
    let first = random.nextUniform()
    let second = random.nextUniform()
    return (-2 * Foundation.log(first)).squareRoot() * Foundation.cos(2 * Double.pi * second)
  }
}

/// Split clicks waiting for their time: a binary min-heap ordered by event time, then by the
/// order they were added (so clicks at one time keep their ratings' order).
struct PendingClicks {
  private var heap: [(time: Int64, sequence: Int, event: Event)] = []
  private var added = 0

  /// Whether no click waits.
  var isEmpty: Bool { heap.isEmpty }

  /// The time of the earliest waiting click, if any.
  var earliestTime: Int64? { heap.first?.time }

  /// Adds `event`, to be emitted at its own time.
  mutating func add(_ event: Event) {
    heap.append((event.timeMilliseconds, added, event))
    added += 1
    var child = heap.count - 1
    while child > 0 {
      let parent = (child - 1) / 2
      guard Self.precedes(heap[child], heap[parent]) else { break }
      heap.swapAt(child, parent)
      child = parent
    }
  }

  /// Removes and returns the earliest waiting click.
  mutating func removeEarliest() -> Event? {
    guard !heap.isEmpty else { return nil }
    heap.swapAt(0, heap.count - 1)
    let earliest = heap.removeLast().event
    var parent = 0
    while true {
      let left = 2 * parent + 1
      let right = left + 1
      var first = parent
      if left < heap.count, Self.precedes(heap[left], heap[first]) { first = left }
      if right < heap.count, Self.precedes(heap[right], heap[first]) { first = right }
      if first == parent { break }
      heap.swapAt(parent, first)
      parent = first
    }
    return earliest
  }

  private static func precedes(
    _ left: (time: Int64, sequence: Int, event: Event),
    _ right: (time: Int64, sequence: Int, event: Event)
  ) -> Bool {
    (left.time, left.sequence) < (right.time, right.sequence)
  }
}
