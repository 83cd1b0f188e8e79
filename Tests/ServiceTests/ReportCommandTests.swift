import Foundation
import Learner
import Testing

@testable import Service

#if canImport(FoundationXML)
  import FoundationXML
#endif

/// `iak-stream report` over a real replay: pretrain, replay with a summary, report; the page's
/// structure, its escaping, and its rendering by headless Chromium.
@Suite struct ReportCommandTests {
  /// A replayed store and summary over three regions for two months, where the labels of one
  /// region are inverted for a stretch, so drift fires and acts.
  final class Fixture {
    let folder: String
    let settings: [String]

    init() throws {
      folder = try TemporaryFolder.make("iak-report")
      var state: UInt64 = 3
      func next() -> UInt64 {
        state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        return state >> 33
      }
      var lines: [String] = []
      for index in 0..<6000 {
        let user = next() % 50
        let item = next() % 20
        let region = ["east", "west", "north"][Int(next() % 3)]
        var clicked = (item % 3 == 0) != (next() % 10 == 0)
        if region == "east", (2500..<4000).contains(index) { clicked.toggle() }
        let time = 883_612_800_000 + Int64(index) * 600_000
        lines.append(
          "{\"type\":\"impression\",\"id\":\"i\(index)\",\"ts\":\(time),\"region\":\"\(region)\","
            + "\"user\":\"u\(user)\",\"item\":\"m\(item)\",\"click\":\(clicked ? 1 : 0)}")
      }
      try (lines.joined(separator: "\n") + "\n").write(
        toFile: folder + "/events.jsonl", atomically: true, encoding: .utf8)
      settings = [
        "backbone.fields=user,item", "backbone.buckets=512", "backbone.hidden=16,8",
        "backbone.until=1998-01-10T00:00:00Z", "backbone.epochs=4", "domain.window=month",
        "domain.min_examples=50", "train.batch_max=8", "train.learning_rate=0.01",
        "drift.warmup_steps=40", "drift.harm_window=200", "drift.on_harm=rollback",
        "checkpoint.keep=1000", "checkpoint.interval=500 events",
      ].flatMap { ["--set", $0] }
      try run(["pretrain", "--input", folder + "/events.jsonl", "--out", folder + "/bb"])
      try run([
        "replay", "--input", folder + "/events.jsonl", "--backbone", folder + "/bb",
        "--checkpoint-dir", folder + "/store", "--summary", folder + "/summary.json", "--flush",
      ])
    }

    deinit { try? FileManager.default.removeItem(atPath: folder) }

    @discardableResult
    func run(_ words: [String]) throws -> String {
      let out = CommandLineToolTests.Captured()
      let status = CommandLineTool.main(
        arguments: ["iak-stream"] + words + settings, output: { out.write($0) },
        errorOutput: { out.writeError($0) })
      try #require(status == 0, "iak-stream \(words.first ?? "") failed: \(out.errors)")
      return out.output
    }

    func report() throws -> (output: String, html: String) {
      let output = try run([
        "report", "--checkpoint-dir", folder + "/store", "--summary", folder + "/summary.json",
        "--out", folder + "/report.html",
      ])
      return (output, try String(contentsOfFile: folder + "/report.html", encoding: .utf8))
    }

    var summary: [String: Any] {
      get throws {
        try #require(
          try JSONSerialization.jsonObject(
            with: Data(contentsOf: URL(fileURLWithPath: folder + "/summary.json")))
            as? [String: Any])
      }
    }
  }

  static func occurrences(of needle: String, in text: String) -> Int {
    text.components(separatedBy: needle).count - 1
  }

  @Test func theReportOfAReplayHasTheOverviewThenEveryDomain() throws {
    let fixture = try Fixture()
    let (output, html) = try fixture.report()
    let domains = try #require(try fixture.summary["domains"] as? [String: [String: Any]])
    #expect(domains.count == 6, "3 regions x 2 months")
    #expect(output.contains("\(domains.count) domains"))

    // Self-contained: inline style, no script, nothing fetched.
    #expect(html.hasPrefix("<!DOCTYPE html>"))
    #expect(Self.occurrences(of: "<style>", in: html) == 1)
    for forbidden in ["<script", "src=", "url(", "@import", "href=\"http", "<link"] {
      #expect(!html.contains(forbidden), "the page contains \(forbidden)")
    }

    // The overview first, one row per domain, then one section per domain with six charts.
    let overview = try #require(html.range(of: "<section id=\"overview\">"))
    let firstDomain = try #require(html.range(of: "<section class=\"domain\""))
    #expect(overview.lowerBound < firstDomain.lowerBound)
    #expect(Self.occurrences(of: "<section class=\"domain\"", in: html) == domains.count)
    #expect(Self.occurrences(of: "<svg class=\"chart\"", in: html) == 6 * domains.count)
    for (index, name) in domains.keys.sorted().enumerated() {
      let row = try #require(
        html.components(separatedBy: "<a href=\"#d\(index + 1)\">\(HTMLText.escape(name))</a>")
          .dropFirst().first?.components(separatedBy: "</tr>").first,
        "no overview row for \(name)")
      // The newest snapshot is the summary's: the same figures.
      let stats = try #require(domains[name])
      let auc = try #require(stats["auc"] as? Double)
      let backbone = try #require(stats["backbone_auc"] as? Double)
      #expect(row.contains(String(format: "%.4f", auc)))
      #expect(row.contains(String(format: "%.4f", backbone)))
      #expect(html.contains("<section class=\"domain\" id=\"d\(index + 1)\">"))
    }

    // Every alert of the summary is in its domain's table; harm acted (rollback or reset).
    let alerts = domains.values.flatMap { ($0["alerts"] as? [[String: Any]]) ?? [] }
    let harm = alerts.filter {
      $0["detector"] as? String == "harm" && $0["status"] as? String == "fired"
    }
    #expect(!harm.isEmpty, "the inverted stretch should make harm fire")
    #expect(
      Self.occurrences(of: "<tr class=\"fired\">", in: html)
        == alerts.filter { $0["status"] as? String == "fired" }.count)
    #expect(html.contains("<td>rollback: kernel version") || html.contains("<td>reset: "))
    #expect(html.contains("<svg class=\"timeline\""))
    #expect(html.contains("<h3>Firings by detector</h3>"))

    // Every SVG is well-formed XML.
    #if canImport(FoundationXML)
      for piece in html.components(separatedBy: "<svg ").dropFirst() {
        let svg = "<svg " + (piece.components(separatedBy: "</svg>").first ?? "") + "</svg>"
        let parser = XMLParser(data: Data(svg.utf8))
        #expect(parser.parse(), "malformed SVG: \(parser.parserError.map { "\($0)" } ?? "")")
      }
    #endif
  }

  @Test func textFromTheDataIsEscaped() throws {
    let name = "<script>alert(\"x\")</script> & 'q'"
    let alert = RecordedAlert(
      domain: name, detector: "harm", status: "fired", value: 0.1, threshold: 0.2,
      eventTimeMs: 889_000_000_000, kernelVersion: 2, action: "rollback",
      actionDetail: "<img src=x onerror=alert(1)>")
    let model = ReportModel(
      checkpointDirectory: "/tmp/<dir>", summaryPath: nil, snapshotVersions: [1],
      newest: nil,
      domains: [
        ReportModel.Domain(
          name: name,
          points: [
            ReportModel.Point(
              snapshotVersion: 1, eventTimeMs: 889_000_000_000, kernelVersion: 2,
              stats: ["examples": 10, "positives": 3, "auc": 0.7, "backbone_auc": 0.6])
          ],
          latest: ["examples": 10, "positives": 3, "auc": 0.7, "backbone_auc": 0.6],
          kernelVersion: 2, isActive: true, isDeactivated: false, firing: ["harm"],
          alerts: [alert])
      ], overall: [:], problems: ["snapshot 3: <bad>"])
    let html = ReportPage.render(model, generatedAt: Date(timeIntervalSince1970: 0))
    #expect(!html.contains("<script"))
    #expect(!html.contains("<img"))
    #expect(!html.contains("<bad>"))
    #expect(!html.contains("<dir>"))
    #expect(html.contains("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;q&#39;"))
    #expect(html.contains("&lt;img src=x onerror=alert(1)&gt;"))
    #expect(html.contains("+10.00"), "AUC 0.7 vs 0.6 is a gain of 10 points")
  }

  /// The Chromium executable on PATH, if any.
  static let chromium: String? = {
    let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
    for folder in path.split(separator: ":") {
      for name in ["chromium", "chromium-browser"] {
        let candidate = "\(folder)/\(name)"
        if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
      }
    }
    return nil
  }()

  @Test(
    .enabled(
      if: chromium != nil,
      "chromium is not installed (scripts/install-deps installs it): rendering not checked"))
  func headlessChromiumRendersTheReport() throws {
    let fixture = try Fixture()
    _ = try fixture.report()
    let png = fixture.folder + "/report.png"
    let process = Process()
    process.executableURL = URL(fileURLWithPath: try #require(Self.chromium))
    process.arguments = [
      "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
      "--user-data-dir=\(fixture.folder)/chromium-profile", "--screenshot=\(png)",
      "--window-size=1200,2000", "file://\(fixture.folder)/report.html",
    ]
    process.standardOutput = FileHandle.nullDevice
    process.standardError = FileHandle.nullDevice
    try process.run()
    let pid = process.processIdentifier
    DispatchQueue.global().asyncAfter(deadline: .now() + 120) {
      if process.isRunning, process.processIdentifier == pid { kill(pid, SIGKILL) }
    }
    process.waitUntilExit()
    #expect(process.terminationStatus == 0)
    let bytes = try #require(FileManager.default.contents(atPath: png), "no screenshot written")
    #expect(bytes.count > 10_000, "a blank page compresses to almost nothing")
    #expect(Array(bytes.prefix(8)) == [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])
    // IHDR: width and height, big-endian, at bytes 16..<24.
    let header = Array(bytes[16..<24])
    let width = header[0..<4].reduce(0) { $0 << 8 | Int($1) }
    let height = header[4..<8].reduce(0) { $0 << 8 | Int($1) }
    #expect(width == 1200 && height == 2000)
  }
}
