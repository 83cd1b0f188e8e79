import Base
import Foundation
import Observability
import Stream

/// The bounded stretch of history a replay reads: a source positioned at each partition's
/// start, and the offset (exclusive) where each partition ends.
final class ReplayRange {
  /// Records come from here.
  let source: any RecordSource
  /// Exclusive end offset of every partition read.
  let ends: [TopicPartition: Int64]
  /// Records the range holds (sum of end minus start), for progress.
  let total: Int
  private var next: [TopicPartition: Int64]
  private var finished: Set<TopicPartition> = []

  private init(
    source: any RecordSource, starts: [TopicPartition: Int64], ends: [TopicPartition: Int64]
  ) {
    self.source = source
    self.ends = ends
    next = starts
    total = starts.reduce(0) { $0 + Int(max(0, (ends[$1.key] ?? $1.value) - $1.value)) }
    partitionsWithRecords = starts.filter { $0.value < ends[$0.key] ?? $0.value }.keys.sorted()
    for (partition, start) in starts where start >= ends[partition] ?? start {
      finished.insert(partition)
    }
  }

  /// Whether every partition reached its end.
  var isFinished: Bool { finished.count == next.count }

  /// The partitions that have records to read in the range, sorted.
  let partitionsWithRecords: [TopicPartition]

  /// Keeps the records below their partition's end; a partition that reaches its end is paused.
  func admit(_ records: [Record]) -> [Record] {
    var kept: [Record] = []
    kept.reserveCapacity(records.count)
    var reached: [TopicPartition] = []
    for record in records {
      let partition = record.topicPartition
      guard let end = ends[partition], record.offset < end, !finished.contains(partition) else {
        continue
      }
      kept.append(record)
      next[partition] = record.offset + 1
      if record.offset + 1 >= end {
        finished.insert(partition)
        reached.append(partition)
      }
    }
    if !reached.isEmpty { try? source.pause(reached) }
    return kept
  }

  // MARK: - Files

  /// Lines `from..<until` of a JSON-lines file (partition 0 of topic "file"). Times select the
  /// first line whose event time is at or after them (lines that do not decode never match).
  static func file(
    _ path: String, from: Int64?, fromTime: Int64?, until: Int64?, untilTime: Int64?,
    schema: EventSchema
  ) throws -> ReplayRange {
    let url = URL(fileURLWithPath: path)
    var start = from ?? 0
    var end = until
    if fromTime != nil || untilTime != nil {
      let probe = try FileRecordSource(url: url, topic: "file")
      let records = try probe.poll(maxRecords: probe.lineCount, timeout: .zero)
      func firstLine(atOrAfter time: Int64) -> Int64 {
        let found = records.firstIndex { record in
          record.value.withUnsafeBytes {
            (try? EventDecoder.decode($0, schema: schema)).map { $0.timeMilliseconds >= time }
              ?? false
          }
        }
        return Int64(found ?? records.count)
      }
      if let fromTime { start = max(start, firstLine(atOrAfter: fromTime)) }
      if let untilTime { end = min(end ?? .max, firstLine(atOrAfter: untilTime)) }
    }
    let source = try FileRecordSource(url: url, topic: "file", startOffset: start)
    let partition = TopicPartition(topic: "file", partition: 0)
    return ReplayRange(
      source: source, starts: [partition: start],
      ends: [partition: min(end ?? .max, Int64(source.lineCount))])
  }

  // MARK: - Kafka

  /// Partitions of `topic` from `start` (explicit offsets win over `snapshotOffsets`, which win
  /// over the earliest retained record) to `end` (offsets, the first record at a time, or the
  /// end each partition had when the replay started). No consumer group is joined and nothing
  /// is committed.
  static func kafka(
    topic: String, configuration: KafkaConfiguration, start: StartPosition?,
    snapshotOffsets: [TopicPartition: Int64], until: StartPosition?, logger: Logger,
    metrics: MetricsRegistry?
  ) throws -> ReplayRange {
    let consumer = try KafkaConsumer.make(
      configuration: configuration, logger: logger.child("consumer"), metrics: metrics)
    do {
      let timeout = Duration.seconds(15)
      let latest = try consumer.resolve(.latest, topic: topic, timeout: timeout)
      var starts: [TopicPartition: Int64]
      if let start {
        starts = try consumer.resolve(start, topic: topic, timeout: timeout)
      } else {
        starts = try consumer.resolve(.earliest, topic: topic, timeout: timeout)
        for (partition, offset) in snapshotOffsets where partition.topic == topic {
          starts[partition] = offset
        }
      }
      var ends = latest
      if let until {
        for (partition, offset) in try consumer.resolve(until, topic: topic, timeout: timeout) {
          ends[partition] = offset
        }
      }
      let active = starts.filter { $0.value < ends[$0.key] ?? 0 }
      if !active.isEmpty { try consumer.assign(active) }
      return ReplayRange(
        source: KafkaRecordSource(consumer: consumer), starts: starts,
        ends: starts.keys.reduce(into: [:]) { $0[$1] = ends[$1] ?? latest[$1] ?? 0 })
    } catch {
      consumer.close()
      throw error
    }
  }
}
