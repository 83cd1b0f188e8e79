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
  /// region are inverted for a stretch, so drift fires and acts. The guard is loose (kernels
  /// serve once they are about as good as the backbone) so that the kernel fitted to the
  /// inverted stretch serves, and harm fires when the stretch ends and it turns harmful.
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
        "drift.guard_min_examples=100", "drift.guard_on_z=0", "drift.guard_confirm_z=0",
        "drift.guard_auc_margin=0.05", "drift.guard_logloss_margin=0.5",
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
    let sections = String(html[firstDomain.lowerBound...])
    #expect(Self.occurrences(of: "<svg class=\"chart\"", in: sections) == 6 * domains.count)
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

  @Test func theOverviewShowsKernelServedAndBackboneOverTimeAndAlertsPerDay() throws {
    let fixture = try Fixture()
    let (_, html) = try fixture.report()
    let domains = try #require(try fixture.summary["domains"] as? [String: [String: Any]])
    let overview = try #require(
      html.components(separatedBy: "<section id=\"overview\">").dropFirst().first?
        .components(separatedBy: "</section>").first)
    #expect(overview.contains("<h3>Over time</h3>"))
    #expect(overview.contains("aria-label=\"AUC, all domains, by snapshot\""))
    #expect(overview.contains("aria-label=\"AUC by window\""))
    // Each window's row: its domains' served and backbone AUC weighted by serving examples,
    // computed here from the summary the report read.
    for window in ["1998-01", "1998-02"] {
      let rows = domains.filter { $0.key.hasPrefix(window + "/") }.map(\.value)
      #expect(rows.count == 3)
      var served = 0.0
      var backbone = 0.0
      var weight = 0.0
      for row in rows {
        let examples = Double(try #require(row["serving_examples"] as? Int))
        served += try #require(row["served_auc"] as? Double) * examples
        backbone += try #require(row["backbone_auc"] as? Double) * examples
        weight += examples
      }
      let cells = try #require(
        overview.components(separatedBy: "<tr><td>\(window)</td>").dropFirst().first?
          .components(separatedBy: "</tr>").first, "no row for window \(window)")
      #expect(cells.contains("<td class=\"num\">3</td>"))
      #expect(cells.contains(String(format: "%.4f", served / weight)), "\(cells)")
      #expect(cells.contains(String(format: "%.4f", backbone / weight)), "\(cells)")
    }
    // One bar per event-time day on which an alert fired.
    let alerts = domains.values.flatMap { ($0["alerts"] as? [[String: Any]]) ?? [] }
    let days = Set(
      try alerts.filter { $0["status"] as? String == "fired" }.map {
        RFC3339.date(milliseconds: try #require(($0["event_time_ms"] as? NSNumber)?.int64Value))
      })
    #expect(!days.isEmpty)
    #expect(Self.occurrences(of: "<rect class=\"bar\"", in: overview) == days.count)
    for day in days { #expect(overview.contains("<title>\(day): ")) }
  }

  @Test func aDomainWithOneSnapshotPointGetsANoteInsteadOfEmptyCharts() throws {
    func domain(_ name: String, points: Int) -> ReportModel.Domain {
      let stats: [String: Double] = [
        "examples": 40, "serving_examples": 40, "positives": 9, "auc": 0.7,
        "backbone_auc": 0.6, "served_auc": 0.65,
      ]
      return ReportModel.Domain(
        name: name,
        points: (0..<points).map {
          ReportModel.Point(
            snapshotVersion: $0 + 1, eventTimeMs: 889_000_000_000 + Int64($0) * 3_600_000,
            kernelVersion: 1, stats: stats)
        }, latest: stats, kernelVersion: 1, isActive: true, isDeactivated: false, firing: [],
        alerts: [])
    }
    let model = ReportModel(
      checkpointDirectory: "/tmp/store", summaryPath: nil, snapshotVersions: [1, 2],
      newest: nil, domains: [domain("1998-03/a", points: 2), domain("1998-03/b", points: 1)],
      overall: [:], problems: [])
    let html = ReportPage.render(model, generatedAt: Date(timeIntervalSince1970: 0))
    let sections = html.components(separatedBy: "<section class=\"domain\"").dropFirst()
    #expect(sections.count == 2)
    let (two, one) = (sections.first!, sections.last!)
    #expect(Self.occurrences(of: "<svg class=\"chart\"", in: two) == 6)
    #expect(Self.occurrences(of: "<svg class=\"chart\"", in: one) == 0)
    #expect(one.contains("One retained snapshot holds this domain: its charts appear from the"))
    // One window: its row in the overview, the weighted means of both domains.
    #expect(html.contains("<tr><td>1998-03</td><td class=\"num\">2</td>"))
    #expect(html.contains("<td class=\"num\">0.6500</td>"))
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
    // What the top of the page shows (the overview and its charts over time), pixel by pixel:
    // a blank page is all white, one colour.
    let stats = try Self.pngStats(png, top: 1000)
    #expect((stats["ink"] ?? 0) > 0.02, "\(stats)")
    #expect((stats["colours"] ?? 0) > 50, "\(stats)")
  }

  /// `scripts/png-stats` of the PNG at `path` (its first `top` rows): `ink`, the share of
  /// pixels that are not near-white, and `colours`, the distinct colours.
  static func pngStats(_ path: String, top: Int) throws -> [String: Double] {
    let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
      .deletingLastPathComponent().deletingLastPathComponent()
      .appendingPathComponent("scripts/png-stats").path
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["python3", script, path, "--top", "\(top)"]
    let output = Pipe()
    process.standardOutput = output
    try process.run()
    let text = String(
      decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    try #require(process.terminationStatus == 0, "png-stats failed: \(text)")
    var stats: [String: Double] = [:]
    for pair in text.split(whereSeparator: \.isWhitespace) {
      let parts = pair.split(separator: "=")
      if parts.count == 2, let value = Double(parts[1]) { stats[String(parts[0])] = value }
    }
    return stats
  }
}
