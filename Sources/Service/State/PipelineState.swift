import Base
import Checkpoint
import Foundation

/// What a pipeline keeps besides its trainer, drift monitor and ingest: where it is in each
/// input partition, what went through, and the domain book. Snapshots hold all of it; a
/// partition's state carries its offset, counts and share of the book, which another process
/// takes over (`adopt(_:lane:counts:)`).
struct PipelineState {
  /// Counts over every held partition.
  var counts = Pipeline.Counts()
  /// Counts per partition (what a partition's state carries when it moves to another process).
  var partitionCounts: [TopicPartition: Pipeline.Counts] = [:]
  /// The next offset to read of every held partition.
  var offsets: [TopicPartition: Int64] = [:]
  /// The next offset of each partition when its state last went to the state topic.
  var handedOverOffsets: [TopicPartition: Int64] = [:]
  /// Kernel versions and their delivery, deactivated and retired domains.
  var book = DomainBook()
  /// The held partition of each lane (the inverse of `InputLanes.lane(of:)` over `offsets`).
  private var partitionOfLane: [Int32: TopicPartition] = [:]

  /// The held partition whose lane is `lane`.
  func partition(ofLane lane: Int32) -> TopicPartition? { partitionOfLane[lane] }

  /// Makes `next` the next offset to read of `partition` (of `lane`, worked out only the first
  /// time the partition is seen: this runs for every record).
  mutating func advance(
    _ partition: TopicPartition, lane: @autoclosure () -> Int32, to next: Int64
  ) {
    if offsets.updateValue(next, forKey: partition) == nil { partitionOfLane[lane()] = partition }
  }

  /// Applies `change` to the overall counts and to `partition`'s.
  mutating func count(_ partition: TopicPartition?, _ change: (inout Pipeline.Counts) -> Void) {
    change(&counts)
    if let partition { change(&partitionCounts[partition, default: Pipeline.Counts()]) }
  }

  /// The held partitions among `partitions` (all when nil) that moved on since they last went
  /// to the state topic, sorted.
  func changedPartitions(of partitions: Set<TopicPartition>?) -> [TopicPartition] {
    offsets.keys.sorted().filter {
      handedOverOffsets[$0] != offsets[$0] && partitions?.contains($0) != false
    }
  }

  // MARK: - Moving partitions

  /// Forgets `partition` (of `lane`) and the book entries of `domains`, the domains it owned.
  mutating func release(_ partition: TopicPartition, lane: Int32, domains: [String]) {
    book.release(lane: lane, domains: domains)
    if let released = partitionCounts.removeValue(forKey: partition) {
      counts.add(released, sign: -1)
    }
    offsets[partition] = nil
    handedOverOffsets[partition] = nil
    if partitionOfLane[lane] == partition { partitionOfLane[lane] = nil }
  }

  /// Takes over a partition state's share (after `release` of the partition): its counts, book
  /// and next offset, which is also the offset it was handed over at.
  mutating func adopt(_ state: PartitionState, lane: Int32, counts adopted: Pipeline.Counts) {
    partitionCounts[state.partition] = adopted
    counts.add(adopted)
    book.adopt(state.book)
    advance(state.partition, lane: lane, to: state.nextOffset)
    handedOverOffsets[state.partition] = state.nextOffset
  }

  /// Makes `offset` the next offset to read of `partition`, keeping all state (the topic was
  /// created again; the records from `offset` on are new).
  mutating func rewind(_ partition: TopicPartition, to offset: Int64) {
    offsets[partition] = offset
    handedOverOffsets[partition] = nil
  }

  // MARK: - Tensors

  /// The tensor holding the counts (`.pipeline/counts`: int64 [records, rejected, examples,
  /// positives]).
  static let countsTensor = ".pipeline/counts"
  /// The tensor holding the counts per partition (`uint8`, JSON `[[topic, partition, records,
  /// rejected, examples, positives], ...]`). Optional when restoring.
  static let partitionCountsTensor = ".pipeline/partition_counts"

  /// The counts as tensors: of every partition, or of `partition` alone (a partition state
  /// holds its own counts as `.pipeline/counts` and no per-partition list).
  func countTensors(of partition: TopicPartition?) -> [String: Tensor] {
    guard partition == nil else {
      return [Self.countsTensor: (partitionCounts[partition!] ?? Pipeline.Counts()).tensor]
    }
    let rows = partitionCounts.keys.sorted().map { partition -> JSONValue in
      let counts = partitionCounts[partition]!
      return .array(
        [.string(partition.topic), .int(partition.partition)]
          + [counts.records, counts.rejected, counts.examples, counts.positives].map {
            JSONValue.int($0)
          })
    }
    let bytes = Array(JSONValue.array(rows).text.utf8)
    return [
      Self.countsTensor: counts.tensor,
      Self.partitionCountsTensor: Tensor(uint8s: bytes, shape: [bytes.count]),
    ]
  }

  /// Reads the counts per partition from a snapshot's tensors (empty when absent).
  ///
  /// - Throws: `ServiceError` (`stateUnreadable`) when the tensor is malformed.
  static func partitionCounts(in tensors: [String: Tensor]) throws -> [TopicPartition: Pipeline
    .Counts]
  {
    guard let tensor = tensors[partitionCountsTensor] else { return [:] }
    guard
      let rows = JSONValue(parsing: String(decoding: try tensor.uint8s(), as: UTF8.self))?
        .arrayValue
    else {
      throw ServiceError(
        .stateUnreadable, "snapshot: tensor \(partitionCountsTensor) is not a JSON list")
    }
    var result: [TopicPartition: Pipeline.Counts] = [:]
    for row in rows {
      let cells = row.arrayValue ?? []
      let numbers = cells.dropFirst().compactMap(\.intValue)
      guard cells.count == 6, let topic = cells[0].stringValue, numbers.count == 5,
        let partition = Int32(exactly: numbers[0])
      else {
        throw ServiceError(
          .stateUnreadable, "snapshot: tensor \(partitionCountsTensor) has a malformed row")
      }
      result[TopicPartition(topic: topic, partition: partition)] = Pipeline.Counts(
        records: numbers[1], rejected: numbers[2], examples: numbers[3], positives: numbers[4])
    }
    return result
  }
}
