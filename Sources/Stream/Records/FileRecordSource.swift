import Base
import Foundation
import Synchronization

/// A `RecordSource` reading a JSON-lines file: one record per line, all in partition 0 of a
/// synthetic topic, with the line number (from 0) as offset and no key.
///
/// For replays, tests and benchmarks. Empty lines keep their number but yield no record, so
/// offsets always equal line numbers. The whole file is read into memory on creation.
public final class FileRecordSource: RecordSource {
  /// The synthetic topic name records carry.
  public let topic: String
  private let lines: [ArraySlice<UInt8>]
  private struct State {
    var nextLine: Int
    var isPaused = false
    var isClosed = false
    var committed: Int64?
  }
  private let state: Mutex<State>

  /// Reads `url`, starting at line `startOffset`; records carry `topic`.
  /// - Throws: `KafkaError` (`.invalidInput`) if the file cannot be read or the offset is
  ///   negative.
  public convenience init(
    url: URL, topic: String = "file", startOffset: Int64 = 0
  ) throws(KafkaError) {
    let data: Data
    do {
      data = try Data(contentsOf: url)
    } catch {
      throw KafkaError(
        code: .invalidInput,
        message: "cannot read the input file \(url.path): \(error.localizedDescription)")
    }
    try self.init(bytes: Array(data), topic: topic, startOffset: startOffset)
  }

  /// Reads JSON lines from memory, starting at line `startOffset`.
  /// - Throws: `KafkaError` (`.invalidInput`) if the offset is negative.
  public init(bytes: [UInt8], topic: String = "file", startOffset: Int64 = 0) throws(KafkaError) {
    guard startOffset >= 0 else {
      throw KafkaError(
        code: .invalidInput,
        message: "start offset \(startOffset) is negative; file offsets are line numbers from 0")
    }
    var lines = bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
    if lines.last?.isEmpty == true { lines.removeLast() }  // the final newline ends a line
    self.topic = topic
    self.lines = lines
    self.state = Mutex(State(nextLine: Int(min(startOffset, Int64(lines.count)))))
  }

  /// The topic partition every record comes from.
  public var topicPartition: TopicPartition { TopicPartition(topic: topic, partition: 0) }

  /// The number of lines in the file.
  public var lineCount: Int { lines.count }

  /// Returns the next records at once (a file never waits); none while paused.
  /// - Throws: `KafkaError` (`.state`) after `close()`.
  public func poll(maxRecords: Int, timeout: Duration) throws(KafkaError) -> [Record] {
    let range: Range<Int>? = state.withLock { state in
      guard !state.isClosed else { return nil }
      guard !state.isPaused else { return state.nextLine..<state.nextLine }
      let end = min(state.nextLine + max(maxRecords, 0), lines.count)
      defer { state.nextLine = end }
      return state.nextLine..<end
    }
    guard let range else {
      throw KafkaError(code: .state, message: "poll called on a closed file record source")
    }
    return records(in: range)
  }

  /// The records of lines `from..<until` (within the file), whatever has been polled: a
  /// stretch of history read again.
  public func records(from: Int64, until: Int64) -> [Record] {
    let start = Int(max(0, min(from, Int64(lines.count))))
    return records(in: start..<Int(max(Int64(start), min(until, Int64(lines.count)))))
  }

  private func records(in range: Range<Int>) -> [Record] {
    var records: [Record] = []
    records.reserveCapacity(range.count)
    for index in range where !lines[index].allSatisfy(Self.isWhitespace) {
      records.append(
        Record(topic: topic, partition: 0, offset: Int64(index), value: Array(lines[index])))
    }
    return records
  }

  /// Partition 0 of the synthetic topic.
  public var assignment: [TopicPartition] { [topicPartition] }

  /// Whether every line has been returned.
  public var isEndOfInput: Bool { state.withLock { $0.nextLine >= lines.count } }

  /// Remembers the committed offset (see `committedOffset`); files have no other commit.
  public func commit(_ offsets: [TopicPartition: Int64]) throws(KafkaError) {
    guard let offset = offsets[topicPartition] else { return }
    state.withLock { $0.committed = offset }
  }

  /// The last offset committed, if any: where a restarted replay would begin.
  public var committedOffset: Int64? { state.withLock { $0.committed } }

  /// Stops returning records while paused.
  public func pause(_ partitions: [TopicPartition]) throws(KafkaError) {
    guard partitions.contains(topicPartition) else { return }
    state.withLock { $0.isPaused = true }
  }

  /// Returns records again.
  public func resume(_ partitions: [TopicPartition]) throws(KafkaError) {
    guard partitions.contains(topicPartition) else { return }
    state.withLock { $0.isPaused = false }
  }

  /// Releases the source.
  public func close() { state.withLock { $0.isClosed = true } }

  private static func isWhitespace(_ byte: UInt8) -> Bool {
    byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") || byte == UInt8(ascii: "\r")
  }
}
