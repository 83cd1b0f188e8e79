import Foundation
import Observability
import Stream
import Synchronization

/// The events of `bench serve`, keyed by region and placed on partitions so that the mock
/// broker keeps them all.
///
/// Each region goes to one partition (regions in order of first appearance, round robin over
/// the partitions), with the region as the record key, as `iak-stream produce` keys them. The
/// mock broker keeps only about 5 MB per partition, so each partition keeps the events of its
/// regions in input order until `partitionBytes` of values; later events of a full partition
/// are left out (every partition holds a prefix of its own stream, so joins and batches are
/// those of the full input up to there).
struct BenchEvents {
  /// One event to produce.
  struct Event {
    /// Its region (the record key), nil when it has none.
    var key: [UInt8]?
    /// Its partition.
    var partition: Int32
    /// The JSON line.
    var value: [UInt8]
  }

  /// The events kept, in input order.
  let events: [Event]
  /// Lines in the input.
  let inputLines: Int
  /// Distinct regions.
  let regions: Int
  /// Value bytes per partition.
  let partitionBytes: [Int]
  /// The cap per partition.
  let cap: Int

  /// Events kept.
  var count: Int { events.count }

  /// One line saying what was kept.
  var summary: String {
    String(
      format: "serve bench input: %d of %d events (%d regions on %d partitions, at most %.1f MB "
        + "of values per partition, largest %.2f MB)", count, inputLines, regions,
      partitionBytes.count, Double(cap) / 1e6, Double(partitionBytes.max() ?? 0) / 1e6)
  }

  /// Reads `url` and keeps what fits (see the type's summary), at most `limit` events;
  /// `benchmark` (`serve`, `soak`) names the benchmark in errors.
  ///
  /// - Throws: `UsageError` when the file cannot be read or has no events.
  static func load(
    _ url: URL, for benchmark: Benchmark, regionField: String, partitions: Int,
    partitionBytes cap: Int, limit: Int
  ) throws -> BenchEvents {
    guard let data = FileManager.default.contents(atPath: url.path) else {
      throw UsageError("bench \(benchmark.rawValue): cannot read --input \(url.path)")
    }
    let lines = data.split(separator: UInt8(ascii: "\n")).filter { !$0.isEmpty }
    guard !lines.isEmpty else {
      throw UsageError("bench \(benchmark.rawValue): --input \(url.path) is empty")
    }
    var partitionOfRegion: [String: Int32] = [:]
    var bytes = [Int](repeating: 0, count: partitions)
    var events: [Event] = []
    var full: Set<Int32> = []
    for line in lines where events.count < limit {
      let value = Array(line)
      let region = JSONLineField.value(named: regionField, in: value)
      let key = region ?? ""
      let partition =
        partitionOfRegion[key]
        ?? {
          let next = Int32(partitionOfRegion.count % partitions)
          partitionOfRegion[key] = next
          return next
        }()
      // A full partition takes nothing more, so that it holds a prefix of its stream.
      guard !full.contains(partition) else { continue }
      guard bytes[Int(partition)] + value.count <= cap else {
        full.insert(partition)
        continue
      }
      bytes[Int(partition)] += value.count
      events.append(
        Event(key: region.map { Array($0.utf8) }, partition: partition, value: value))
    }
    return BenchEvents(
      events: events, inputLines: lines.count, regions: partitionOfRegion.count,
      partitionBytes: bytes, cap: cap)
  }

  /// Sends the first `count` events to `topic` as fast as the producer takes them, or at
  /// `eventsPerSecond` when given, and waits until all are delivered. Returns the seconds spent
  /// sending.
  ///
  /// - Throws: `KafkaError` when a send fails or a record is not delivered.
  @discardableResult
  func produce(
    to topic: String, with producer: KafkaProducer, count: Int? = nil,
    eventsPerSecond: Double? = nil
  ) throws -> Double {
    let total = min(count ?? events.count, events.count)
    let failures = FailureCount()
    let clock = ContinuousClock()
    let start = clock.now
    var sent = 0
    while sent < total {
      var due = total
      if let eventsPerSecond {
        let elapsed = (clock.now - start).inSeconds
        due = min(total, Int(elapsed * eventsPerSecond) + 1)
        if due <= sent {
          Thread.sleep(forTimeInterval: 0.001)
          continue
        }
      }
      while sent < due {
        let event = events[sent]
        try producer.send(
          OutgoingRecord(
            topic: topic, partition: event.partition, key: event.key, value: event.value)
        ) { result in
          if case .failure = result { failures.count.add(1, ordering: .relaxed) }
        }
        sent += 1
      }
    }
    let seconds = (clock.now - start).inSeconds
    try producer.flush(timeout: .seconds(120))
    let undelivered = failures.count.load(ordering: .acquiring)
    if undelivered > 0 {
      throw KafkaError(
        code: .state,
        message: "\(undelivered) events were not delivered to the mock cluster")
    }
    return seconds
  }
}

/// Delivery failures counted from the producer's delivery-report thread.
private final class FailureCount: Sendable {
  let count = Atomic<Int>(0)
}
