import Foundation
import Testing

@testable import Stream

/// What `bench kafka` counts, and how it fails when the mock broker cannot hold its input.
@Suite(.serialized)
struct KafkaThroughputBenchmarkTests {
  /// Writes `count` JSON lines of about `lineBytes` bytes each; returns the file and the bytes
  /// of the values (the lines without their newlines).
  private func writeLines(count: Int, lineBytes: Int) throws -> (URL, Int) {
    let url = FileManager.default.temporaryDirectory
      .appendingPathComponent("iak-kafka-bench-\(UUID().uuidString).jsonl")
    var text = ""
    var bytes = 0
    for index in 0..<count {
      let head = #"{"type":"impression","id":"i\#(index)","ts":\#(881_250_949_000 + index),"#
      let padding = String(repeating: "x", count: max(0, lineBytes - head.utf8.count - 16))
      let line = head + #""region":"r\#(index % 3)","p":"\#(padding)"}"#
      bytes += line.utf8.count
      text += line + "\n"
    }
    try Data(text.utf8).write(to: url)
    return (url, bytes)
  }

  @Test func countsEveryRecordAndByteProduced() throws {
    let (url, bytes) = try writeLines(count: 2_000, lineBytes: 120)
    defer { try? FileManager.default.removeItem(at: url) }
    var staged = 0
    let figures = try KafkaThroughputBenchmark.run(
      input: url, partitions: 3, batchSize: 100, stage: { staged += $0.count })
    #expect(figures.records == 2_000)
    #expect(figures.bytes == bytes)
    #expect(staged == 2_000)
    #expect(figures.recordsPerSecond > 0)
  }

  @Test func saysSoWhenTheMockBrokerDroppedRecords() throws {
    // About 8 MB on one partition: the mock broker keeps about 5 MB of it. Before the check,
    // the run waited out its timeout and printed the records it found as a rate; a consume
    // that times out now throws `.timedOut`, so the code tells the two apart.
    let (url, _) = try writeLines(count: 8_000, lineBytes: 1_000)
    defer { try? FileManager.default.removeItem(at: url) }
    do {
      _ = try KafkaThroughputBenchmark.run(input: url, partitions: 1, timeout: .seconds(60))
      Issue.record("the run reported figures for records the broker no longer held")
    } catch {
      #expect(error.code == .invalidInput)
      #expect(error.message.contains("of 8000 records"))
      #expect(error.message.contains("--partitions"))
    }
  }
}
