import Foundation
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

@Suite struct LogTimestampTests {
  @Test func timestampsAreUTCWithTheZone() throws {
    let date = Date(timeIntervalSince1970: 1_000_000_000.123)
    #expect(Logger.timestamp(date) == "2001-09-09T01:46:40.123Z")
    let captured = LoggerTests.Lines()
    Logger(label: "x") { line in captured.lines.withLock { $0.append(line) } }.info("hi")
    Logger(label: "x", format: .json) { line in captured.lines.withLock { $0.append(line) } }
      .info("hi")
    let zoned = try Regex(#"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"#)
    #expect(captured.all.count == 2)
    for line in captured.all { #expect(line.contains(zoned), "\(line)") }
  }
}

@Suite struct StandardErrorTerminalTests {
  final class Output: Sendable {
    let text = Mutex("")
  }

  @Test func logLinesAreNeverGluedToTheProgressLine() {
    let output = Output()
    let terminal = StandardErrorTerminal { text in output.text.withLock { $0 += text } }
    terminal.writeLine("first")
    terminal.showStatus("replay: 10 events")
    terminal.showStatus("replay: 20 events")
    terminal.writeLine("level=warning msg=late")
    terminal.clearStatus()
    terminal.clearStatus()
    terminal.writeLine("done")
    let clear = "\r\u{1B}[K"
    let expected =
      "first\n" + clear + "replay: 10 events" + clear + "replay: 20 events"
      + clear + "level=warning msg=late\n" + "replay: 20 events" + clear + "done\n"
    #expect(output.text.withLock { $0 } == expected)
  }

  @Test func aTerminalProgressReporterDrawsOnTheSharedLineAndClearsItAtTheEnd() {
    let output = Output()
    let terminal = StandardErrorTerminal { text in output.text.withLock { $0 += text } }
    let reporter = ProgressReporter(
      label: "produce", unit: "events", total: 100, logger: .disabled, isTerminal: true,
      terminal: terminal)
    reporter.update(done: 10)
    terminal.writeLine("a log line")
    reporter.finish()
    let text = output.text.withLock { $0 }
    #expect(text.hasPrefix("\r\u{1B}[Kproduce: 10/100 events"))
    #expect(text.contains("\r\u{1B}[Ka log line\nproduce: 10/100 events"))
    #expect(text.hasSuffix("\r\u{1B}[K"))
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
    // A first report microseconds after the start shows no rate and no ETA, not 10^9/s.
    #expect(
      ProgressReporter.describe(
        label: "pretrain", unit: "examples", done: 1280, total: 2880, elapsed: 0.000_5)
        == "pretrain: 1280/2880 examples")
  }
}
