import Synchronization
import Testing

@testable import Observability

@Suite struct LoggerTests {
  final class Lines: Sendable {
    let lines = Mutex<[String]>([])
    var all: [String] { lines.withLock { $0 } }
  }

  @Test func writesLogfmtWithQuotingAndSkipsLowerLevels() {
    let captured = Lines()
    let logger = Logger(label: "stream", level: .info) { line in
      captured.lines.withLock { $0.append(line) }
    }.with("partition", "3")
    logger.debug("hidden")
    logger.warning("click without impression", ["reason": "late", "id": "imp 1"])
    #expect(captured.all.count == 1)
    let line = captured.all[0]
    #expect(line.contains(" level=warning component=stream msg=\"click without impression\""))
    #expect(line.hasSuffix("partition=3 reason=late id=\"imp 1\""))
  }

  @Test func writesOneJSONObjectPerLine() throws {
    let captured = Lines()
    let logger = Logger(label: "learner", format: .json) { line in
      captured.lines.withLock { $0.append(line) }
    }
    logger.error("bad\nvalue", ["domain": "a\"b"])
    let line = captured.all[0]
    #expect(line.hasPrefix("{\"ts\":"))
    let tail = #","level":"error","component":"learner","msg":"bad\nvalue","domain":"a\"b"}"#
    #expect(line.hasSuffix(tail))
  }
}

@Suite struct ProgressReporterTests {
  @Test func describesCountRateAndETA() {
    let text = ProgressReporter.describe(
      label: "replay", unit: "events", done: 2500, total: 10000, elapsed: 5)
    #expect(text == "replay: 2500/10000 events, 500/s, ETA 0:15")
    #expect(
      ProgressReporter.describe(label: "produce", unit: "events", done: 7, total: nil, elapsed: 2)
        == "produce: 7 events, 4/s")
  }
}
