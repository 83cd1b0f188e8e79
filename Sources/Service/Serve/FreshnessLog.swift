import Synchronization

/// Exact freshness figures for benchmarks: how long records waited from their arrival to the
/// publication of the snapshot that covers them, kept as (seconds, records) pairs.
final class FreshnessLog: Sendable {
  private let samples = Mutex<[(seconds: Double, records: Int)]>([])
  /// Pairs kept at most (the oldest are dropped beyond it).
  let limit: Int

  /// Creates an empty log keeping at most `limit` pairs.
  init(limit: Int = 1_000_000) { self.limit = limit }

  /// Records that `records` records waited `seconds`.
  func record(seconds: Double, records: Int) {
    samples.withLock {
      if $0.count >= limit { $0.removeFirst($0.count / 2) }
      $0.append((seconds, records))
    }
  }

  /// The record-weighted quantile `q` (0...1) of the waits, or nil when nothing was recorded.
  func quantile(_ q: Double) -> Double? {
    let sorted = samples.withLock { $0 }.sorted { $0.seconds < $1.seconds }
    let total = sorted.reduce(0) { $0 + $1.records }
    guard total > 0 else { return nil }
    let rank = max(1, Int((q * Double(total)).rounded(.up)))
    var seen = 0
    for sample in sorted {
      seen += sample.records
      if seen >= rank { return sample.seconds }
    }
    return sorted.last?.seconds
  }

  /// Records measured.
  var recordCount: Int { samples.withLock { $0.reduce(0) { $0 + $1.records } } }
}
