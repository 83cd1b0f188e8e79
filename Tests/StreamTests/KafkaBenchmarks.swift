import Foundation
import Stream
import Testing

/// Figures, no assertions: run with `IAK_BENCH=1 swift test --filter KafkaBenchmarks`
/// (`IAK_BENCH_INPUT=events.jsonl` for a real file; otherwise 100 000 synthetic events).
@Suite(.enabled(if: ProcessInfo.processInfo.environment["IAK_BENCH"] == "1"))
struct KafkaBenchmarks {
  @Test func consumerThroughputFromTheMockBroker() throws {
    let environment = ProcessInfo.processInfo.environment
    let input: URL
    var temporary: URL?
    if let path = environment["IAK_BENCH_INPUT"] {
      input = URL(fileURLWithPath: path)
    } else {
      let url = FileManager.default.temporaryDirectory
        .appendingPathComponent("iak-kafka-bench-\(UUID().uuidString).jsonl")
      var text = ""
      for index in 0..<100_000 {
        text += #"{"ts":\#(881_250_949_000 + index * 1000),"user":\#(index % 943),"#
        text += #""item":\#(index % 1682),"region":"r\#(index % 7)","kind":"impression","#
        text += #""label":\#(index % 10 == 0 ? 1 : 0),"genres":["Drama","Comedy"]}"# + "\n"
      }
      try Data(text.utf8).write(to: url)
      input = url
      temporary = url
    }
    defer { if let temporary { try? FileManager.default.removeItem(at: temporary) } }
    for batchSize in [100, 1000] {
      let figures = try KafkaThroughputBenchmark.run(
        input: input, partitions: 4, batchSize: batchSize)
      print("batch \(batchSize): \(figures)")
    }
  }
}
