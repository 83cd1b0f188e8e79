import Base
import Foundation
import Stream
import Testing

@Suite struct RecordSourceTests {
  private let text = #"{"e":0}"# + "\n" + #"{"e":1}"# + "\n\n" + #"{"e":3}"# + "\n"

  @Test func fileRecordsCarryLineNumbersAsOffsets() throws {
    let source = try FileRecordSource(bytes: Array(text.utf8), topic: "replay")
    #expect(!source.isEndOfInput)
    let records = try source.poll(maxRecords: 10, timeout: .zero)
    #expect(records.map(\.offset) == [0, 1, 3])  // the empty line 2 keeps its number
    #expect(records.map(\.topic) == ["replay", "replay", "replay"])
    #expect(records.allSatisfy { $0.partition == 0 && $0.key == nil && $0.timestampMs == nil })
    #expect(records[2].value == Array(#"{"e":3}"#.utf8))
    #expect(source.isEndOfInput)
    #expect(try source.poll(maxRecords: 10, timeout: .zero).isEmpty)
    #expect(source.assignment == [TopicPartition(topic: "replay", partition: 0)])
  }

  @Test func fileSourceStartsAtAnOffsetAndReadsInBatches() throws {
    let source: any RecordSource = try FileRecordSource(bytes: Array(text.utf8), startOffset: 1)
    let first = try source.poll(maxRecords: 1, timeout: .zero)
    #expect(first.map(\.offset) == [1])
    #expect(!source.isEndOfInput)
    let rest = try source.poll(maxRecords: 5, timeout: .zero)
    #expect(rest.map(\.offset) == [3])
    #expect(source.isEndOfInput)
  }

  @Test func fileSourcePausesCommitsAndCloses() throws {
    let source = try FileRecordSource(bytes: Array(text.utf8), topic: "t")
    try source.pause(source.assignment)
    #expect(try source.poll(maxRecords: 10, timeout: .zero).isEmpty)
    try source.resume(source.assignment)
    #expect(try source.poll(maxRecords: 1, timeout: .zero).count == 1)
    try source.commit([TopicPartition(topic: "t", partition: 0): 1])
    #expect(source.committedOffset == 1)
    source.close()
    #expect(throws: KafkaError.self) { try source.poll(maxRecords: 1, timeout: .zero) }
  }

  @Test func fileSourceReadsFromDiskAndReportsAMissingFile() throws {
    let url = FileManager.default.temporaryDirectory
      .appendingPathComponent("iak-record-source-\(UUID().uuidString).jsonl")
    try Data(text.utf8).write(to: url)
    defer { try? FileManager.default.removeItem(at: url) }
    let source = try FileRecordSource(url: url, startOffset: 99)
    #expect(source.isEndOfInput)
    #expect(try source.poll(maxRecords: 10, timeout: .zero).isEmpty)

    let missing = url.appendingPathExtension("missing")
    let error = #expect(throws: KafkaError.self) { try FileRecordSource(url: missing) }
    #expect(error?.code == .invalidInput)
    #expect(error?.message.contains(missing.path) == true)
    #expect(throws: KafkaError.self) { try FileRecordSource(bytes: [], startOffset: -1) }
  }
}
