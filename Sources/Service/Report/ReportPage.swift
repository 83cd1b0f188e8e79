import Foundation
import Learner

/// Renders a `ReportModel` as one self-contained HTML page: inline CSS and SVG, no script, no
/// external resource. Every piece of text from the data is escaped (`HTMLText.escape`).
///
/// Layout: a header naming the sources, the overview (overall figures; over time: the
/// example-weighted kernel, served and backbone AUC by snapshot and by window, and alerts fired
/// per day; one row per domain; alert counts per detector), then per domain its figures, six
/// charts over the retained snapshots (a note instead while it has fewer than two) (AUC and relevance of kernel vs backbone, E[KL], active units, click rate,
/// decoder norm) and its alerts as a timeline and a table.
public enum ReportPage {
  /// Alert rows listed per domain; the timeline still shows all of them.
  static let alertRowsPerDomain = 60

  /// The page for `model`; `generatedAt` is written in the header.
  public static func render(_ model: ReportModel, generatedAt: Date) -> String {
    var html = """
      <!DOCTYPE html>
      <html lang="en">
      <head>
      <meta charset="utf-8">
      <meta name="viewport" content="width=device-width, initial-scale=1">
      <title>iak-stream report</title>
      <style>\(style)</style>
      </head>
      <body>
      <header>
      <h1>iak-stream report</h1>

      """
    html += "<p class=\"meta\">" + sources(model, generatedAt: generatedAt) + "</p>\n"
    for problem in model.problems {
      html += "<p class=\"problem\">" + HTMLText.escape(problem) + "</p>\n"
    }
    html += "</header>\n<main>\n"
    html += overview(model)
    for (index, domain) in model.domains.enumerated() {
      html += section(domain, anchor: "d\(index + 1)")
    }
    html += "</main>\n</body>\n</html>\n"
    return html
  }

  // MARK: - Overview

  private static func sources(_ model: ReportModel, generatedAt: Date) -> String {
    var parts = ["Snapshot store <code>\(HTMLText.escape(model.checkpointDirectory))</code>"]
    if let first = model.snapshotVersions.first, let last = model.snapshotVersions.last {
      parts.append(
        "\(model.snapshotVersions.count) retained snapshot(s), versions \(first) to \(last)")
    } else {
      parts.append("no readable snapshot")
    }
    if let newest = model.newest {
      parts.append(
        "newest written \(HTMLText.escape(RFC3339.minute(milliseconds: newest.createdAtMilliseconds))) UTC"
      )
      if let time = SnapshotView.eventTime(in: newest) {
        parts.append("stream event time \(RFC3339.minute(milliseconds: time)) UTC")
      }
      parts.append(
        "backbone sha256 <code>\(HTMLText.escape(String(newest.backboneSHA256.prefix(12))))</code>")
    }
    if let summary = model.summaryPath {
      parts.append("summary <code>\(HTMLText.escape(summary))</code>")
    }
    let generated = Int64(generatedAt.timeIntervalSince1970 * 1000)
    parts.append("generated \(RFC3339.minute(milliseconds: generated)) UTC")
    return parts.joined(separator: " · ")
  }

  private static func overview(_ model: ReportModel) -> String {
    var html = "<section id=\"overview\">\n<h2>Overview</h2>\n"
    let examples = model.domains.reduce(0.0) { $0 + ($1.latest["examples"] ?? 0) }
    let fired = model.domains.flatMap(\.alerts).filter(\.isFiring)
    var figures: [(String, String)] = [
      ("domains", "\(model.domains.count)"),
      ("examples", integer(model.overall["examples"] ?? examples)),
    ]
    if let records = model.overall["records"] { figures.append(("records", integer(records))) }
    if let rejected = model.overall["rejected"] { figures.append(("rejected", integer(rejected))) }
    if let kernel = model.overall["auc_mean_by_examples"],
      let backbone = model.overall["backbone_auc_mean_by_examples"]
    {
      figures.append(("kernel AUC at serving time (example-weighted)", fixed(kernel)))
      figures.append(("backbone AUC (example-weighted)", fixed(backbone)))
    }
    if let served = model.overall["served_auc_mean_by_examples"] {
      figures.append(("served AUC (example-weighted)", fixed(served)))
    }
    figures.append(("alerts fired", "\(fired.count)"))
    let serving = model.domains.filter { $0.isActive == true }.count
    figures.append(("kernels serving", "\(serving)"))
    html += "<dl class=\"figures\">"
    for (name, value) in figures {
      html += "<div><dt>\(HTMLText.escape(name))</dt><dd>\(value)</dd></div>"
    }
    html += "</dl>\n"
    html += ReportOverTime.html(model)
    html += "<h3>Domains</h3>\n"

    html += """
      <table class="domains">
      <thead><tr><th>Domain</th><th>Examples</th><th>Click rate</th><th>Kernel AUC</th>\
      <th>Backbone AUC</th><th>Δ AUC (points)</th><th>Served AUC</th><th>Δ served (points)</th>\
      <th>Serving</th><th>Kernel version</th><th>Alerts fired</th><th>Firing now</th></tr></thead>
      <tbody>

      """
    for (index, domain) in model.domains.enumerated() {
      let stats = domain.latest
      let firedCount = domain.alerts.filter(\.isFiring).count
      html += "<tr><td><a href=\"#d\(index + 1)\">\(HTMLText.escape(domain.name))</a></td>"
      html += "<td class=\"num\">\(integer(stats["examples"]))</td>"
      html += "<td class=\"num\">\(percent(clickRate(stats)))</td>"
      html += "<td class=\"num\">\(fixed(stats["auc"]))</td>"
      html += "<td class=\"num\">\(fixed(stats["backbone_auc"]))</td>"
      html += "<td class=\"num\">\(delta(stats["auc"], stats["backbone_auc"]))</td>"
      html += "<td class=\"num\">\(fixed(stats["served_auc"]))</td>"
      html += "<td class=\"num\">\(delta(stats["served_auc"], stats["backbone_auc"]))</td>"
      html += "<td>\(activity(domain))</td>"
      html += "<td class=\"num\">\(domain.kernelVersion)</td>"
      html += "<td class=\"num\">\(firedCount)</td>"
      html += "<td>\(firingBadges(domain.firing))</td></tr>\n"
    }
    html += "</tbody>\n</table>\n"
    html += detectorTable(model, examples: model.overall["examples"] ?? examples)
    return html + "</section>\n"
  }

  private static func detectorTable(_ model: ReportModel, examples: Double) -> String {
    let alerts = model.domains.flatMap(\.alerts).filter(\.isFiring)
    guard !alerts.isEmpty else {
      return "<p class=\"quiet\">No drift detector fired.</p>\n"
    }
    var html = """
      <h3>Firings by detector</h3>
      <table class="detectors">
      <thead><tr><th>Detector</th><th>Severity</th><th>Firings</th><th>Domains</th>\
      <th>Per 100k examples</th><th>Actions taken</th></tr></thead>
      <tbody>

      """
    let byDetector = Dictionary(grouping: alerts, by: \.detector)
    for detector in byDetector.keys.sorted() {
      let firings = byDetector[detector]!
      let severity = DriftDetector(rawValue: detector)?.severity.rawValue ?? "?"
      let actions = Dictionary(grouping: firings.compactMap(\.action), by: { $0 })
        .map { "\($0.key) \($0.value.count)" }.sorted().joined(separator: ", ")
      html += "<tr><td>\(HTMLText.escape(detector))</td>"
      html +=
        "<td><span class=\"badge sev-\(HTMLText.escape(severity))\">\(HTMLText.escape(severity))</span></td>"
      html += "<td class=\"num\">\(firings.count)</td>"
      html += "<td class=\"num\">\(Set(firings.map(\.domain)).count)</td>"
      html +=
        "<td class=\"num\">"
        + (examples > 0 ? String(format: "%.2f", Double(firings.count) / examples * 100_000) : "-")
        + "</td>"
      html += "<td>\(HTMLText.escape(actions.isEmpty ? "-" : actions))</td></tr>\n"
    }
    return html + "</tbody>\n</table>\n"
  }

  // MARK: - One domain

  private static func section(_ domain: ReportModel.Domain, anchor: String) -> String {
    let stats = domain.latest
    var html = "<section class=\"domain\" id=\"\(anchor)\">\n"
    html += "<h2>\(HTMLText.escape(domain.name)) \(activity(domain))"
    html += " <span class=\"version\">kernel version \(domain.kernelVersion)</span>"
    html += " \(firingBadges(domain.firing))</h2>\n"
    html += "<p class=\"facts\">\(integer(stats["examples"])) examples, "
    html += "\(integer(stats["positives"])) clicks (\(percent(clickRate(stats)))); "
    html += "at serving time (scored when each impression arrived), AUC kernel "
    html += "\(fixed(stats["auc"])), served \(fixed(stats["served_auc"])) vs backbone "
    html +=
      "\(fixed(stats["backbone_auc"])) (\(delta(stats["auc"], stats["backbone_auc"])) points); "
    html +=
      "logloss kernel \(fixed(stats["logloss"])) vs backbone \(fixed(stats["backbone_logloss"]))"
    html +=
      "; training-time diagnostic (scored after the label wait, leaks the session's labels): "
      + "kernel AUC \(fixed(stats["training_auc"]))"
    html += "; \(domain.points.count) snapshot point(s)</p>\n"
    if domain.points.count >= 2 {
      html += "<div class=\"charts\">\n"
      for chart in charts(domain) { html += chart.svg() + "\n" }
      html += "</div>\n"
    } else {
      // A line needs two points: one snapshot's figures are the ones above.
      html +=
        "<p class=\"quiet\">\(domain.points.isEmpty ? "No retained snapshot holds" : "One retained snapshot holds") "
        + "this domain: its charts appear from the second.</p>\n"
    }
    html += alertsBlock(domain)
    html += "<p class=\"top\"><a href=\"#overview\">back to the overview</a></p>\n"
    return html + "</section>\n"
  }

  private static func charts(_ domain: ReportModel.Domain) -> [SVGLineChart] {
    let points = domain.points
    let byTime = !points.isEmpty && points.allSatisfy { $0.eventTimeMs != nil }
    let axis: SVGLineChart.XAxis = byTime ? .eventTime : .number(prefix: "#")
    func x(_ point: ReportModel.Point) -> Double {
      byTime ? Double(point.eventTimeMs!) : Double(point.snapshotVersion)
    }
    func note(_ point: ReportModel.Point, _ value: Double) -> String {
      let when = point.eventTimeMs.map { RFC3339.minute(milliseconds: $0) + " UTC, " } ?? ""
      return "\(SVGLineChart.label(value, step: 0.0001)) (\(when)snapshot "
        + "\(point.snapshotVersion), kernel version \(point.kernelVersion), "
        + "\(integer(point.stats["examples"])) examples)"
    }
    func series(_ name: String, _ key: String, _ color: String, dashed: Bool = false)
      -> SVGLineChart.Series
    {
      SVGLineChart.Series(
        name: name, color: color,
        points: points.compactMap { point in
          point.stats[key].map { SVGLineChart.Point(x: x(point), y: $0, note: note(point, $0)) }
        }, isDashed: dashed)
    }
    // Click rate between consecutive points (the first from the start).
    var rates: [SVGLineChart.Point] = []
    var previous: (examples: Double, positives: Double) = (0, 0)
    for point in points {
      let examples = point.stats["examples"] ?? 0
      let positives = point.stats["positives"] ?? 0
      if examples > previous.examples {
        let rate = (positives - previous.positives) / (examples - previous.examples)
        rates.append(SVGLineChart.Point(x: x(point), y: rate, note: note(point, rate)))
      }
      previous = (examples, positives)
    }
    let kernel = "#1f6fb2"
    let backbone = "#8a8f98"
    return [
      SVGLineChart(
        title: "Prequential AUC (cumulative)",
        series: [
          series("kernel", "auc", kernel),
          series("backbone", "backbone_auc", backbone, dashed: true),
        ], xAxis: axis),
      SVGLineChart(
        title: "Relevance H(Y) - CE (bits)",
        series: [
          series("kernel", "relevance_bits", kernel),
          series("backbone", "backbone_relevance_bits", backbone, dashed: true),
        ], xAxis: axis),
      SVGLineChart(
        title: "Compression E[KL] (nats)", series: [series("E[KL]", "mean_kl_nats", "#7b4bb3")],
        xAxis: axis, yIncludes: [0]),
      SVGLineChart(
        title: "Active units of z", series: [series("active units", "active_units", "#2e8b57")],
        xAxis: axis, yIncludes: [0]),
      SVGLineChart(
        title: "Click rate since the previous point",
        series: [SVGLineChart.Series(name: "click rate", color: "#c0552b", points: rates)],
        xAxis: axis, yIncludes: [0]),
      SVGLineChart(
        title: "Decoder output norm / norm of h",
        series: [series("relative norm", "relative_decoder_norm", "#b8860b")], xAxis: axis,
        yIncludes: [0]),
    ]
  }

  private static func alertsBlock(_ domain: ReportModel.Domain) -> String {
    guard !domain.alerts.isEmpty else {
      return "<p class=\"quiet\">No alert for this domain.</p>\n"
    }
    var html = "<h3>Alerts</h3>\n"
    let times =
      domain.alerts.map(\.eventTimeMs) + domain.points.compactMap(\.eventTimeMs)
    html += timeline(domain, from: times.min()!, through: times.max()!).svg() + "\n"
    html += """
      <table class="alerts">
      <thead><tr><th>Event time (UTC)</th><th>Detector</th><th>Status</th><th>Value</th>\
      <th>Threshold</th><th>Kernel version</th><th>Action</th></tr></thead>
      <tbody>

      """
    for alert in domain.alerts.prefix(alertRowsPerDomain) {
      let action = [alert.action, alert.actionDetail].compactMap { $0 }.joined(separator: ": ")
      html += "<tr class=\"\(alert.isFiring ? "fired" : "cleared")\">"
      html += "<td class=\"time\">\(RFC3339.minute(milliseconds: alert.eventTimeMs))</td>"
      html += "<td>\(HTMLText.escape(alert.detector))</td>"
      html += "<td>\(HTMLText.escape(alert.status))</td>"
      html += "<td class=\"num\">\(SVGLineChart.label(alert.value, step: 0.0001))</td>"
      html += "<td class=\"num\">\(SVGLineChart.label(alert.threshold, step: 0.0001))</td>"
      html += "<td class=\"num\">\(alert.kernelVersion)</td>"
      html += "<td>\(HTMLText.escape(action.isEmpty ? "-" : action))</td></tr>\n"
    }
    html += "</tbody>\n</table>\n"
    if domain.alerts.count > alertRowsPerDomain {
      html +=
        "<p class=\"quiet\">\(domain.alerts.count - alertRowsPerDomain) more alert(s) are in "
        + "the timeline above and in the summary file.</p>\n"
    }
    return html
  }

  private static func timeline(_ domain: ReportModel.Domain, from: Int64, through: Int64)
    -> SVGAlertTimeline
  {
    var lanes: [SVGAlertTimeline.Lane] = []
    let detectors = Set(domain.alerts.map(\.detector)).sorted {
      (order($0), $0) < (order($1), $1)
    }
    for detector in detectors {
      var intervals: [SVGAlertTimeline.Interval] = []
      var marks: [SVGAlertTimeline.Mark] = []
      var open: RecordedAlert?
      for alert in domain.alerts where alert.detector == detector {
        if let action = alert.action, !["alert", "reactivate"].contains(action) {
          marks.append(
            SVGAlertTimeline.Mark(
              time: alert.eventTimeMs,
              note: "\(action) at \(RFC3339.minute(milliseconds: alert.eventTimeMs)) UTC"
                + (alert.actionDetail.map { ": " + $0 } ?? "")))
        }
        if alert.isFiring {
          if open == nil { open = alert }
        } else if let start = open {
          intervals.append(
            SVGAlertTimeline.Interval(
              start: start.eventTimeMs, end: alert.eventTimeMs,
              note: "\(detector) fired \(RFC3339.minute(milliseconds: start.eventTimeMs)) "
                + "(value \(SVGLineChart.label(start.value, step: 0.0001)) vs threshold "
                + "\(SVGLineChart.label(start.threshold, step: 0.0001))), cleared "
                + "\(RFC3339.minute(milliseconds: alert.eventTimeMs)) UTC"))
          open = nil
        }
      }
      if let start = open {
        let still = domain.firing.contains(detector) ? "still firing" : "not cleared in the data"
        intervals.append(
          SVGAlertTimeline.Interval(
            start: start.eventTimeMs, end: nil,
            note: "\(detector) fired \(RFC3339.minute(milliseconds: start.eventTimeMs)) UTC "
              + "(value \(SVGLineChart.label(start.value, step: 0.0001)) vs threshold "
              + "\(SVGLineChart.label(start.threshold, step: 0.0001))), \(still)"))
      }
      let severity = DriftDetector(rawValue: detector)?.severity ?? .info
      lanes.append(
        SVGAlertTimeline.Lane(
          name: detector, color: color(of: severity), intervals: intervals, marks: marks))
    }
    return SVGAlertTimeline(lanes: lanes, from: from, through: through)
  }

  // MARK: - Formatting

  private static func order(_ detector: String) -> Int {
    DriftDetector.allCases.firstIndex { $0.rawValue == detector } ?? Int.max
  }

  private static func color(of severity: DriftSeverity) -> String {
    switch severity {
    case .critical: "#c62828"
    case .warning: "#ef8f00"
    case .info: "#4f86c6"
    }
  }

  private static func activity(_ domain: ReportModel.Domain) -> String {
    if domain.isDeactivated { return "<span class=\"badge off\">deactivated</span>" }
    switch domain.isActive {
    case true?: return "<span class=\"badge on\">serving</span>"
    case false?:
      return "<span class=\"badge idle\" title=\"too few examples yet (domain.min_examples), or "
        + "not yet shown at serving time to rank at least as well as the backbone\">shadow</span>"
    case nil: return "<span class=\"badge idle\">unknown</span>"
    }
  }

  private static func firingBadges(_ firing: Set<String>) -> String {
    firing.sorted { (order($0), $0) < (order($1), $1) }.map { detector in
      let severity = DriftDetector(rawValue: detector)?.severity.rawValue ?? "info"
      return "<span class=\"badge sev-\(HTMLText.escape(severity))\">"
        + "\(HTMLText.escape(detector))</span>"
    }.joined(separator: " ")
  }

  private static func clickRate(_ stats: [String: Double]) -> Double? {
    guard let examples = stats["examples"], examples > 0 else { return nil }
    return (stats["positives"] ?? 0) / examples
  }

  private static func integer(_ value: Double?) -> String {
    guard let value, value.isFinite else { return "-" }
    let digits = String(Int64(value.rounded()))
    var grouped = ""
    for (index, character) in digits.reversed().enumerated() {
      if index > 0, index % 3 == 0, character != "-" { grouped.append(",") }
      grouped.append(character)
    }
    return String(grouped.reversed())
  }

  private static func fixed(_ value: Double?) -> String {
    guard let value, value.isFinite else { return "-" }
    return String(format: "%.4f", value)
  }

  private static func percent(_ value: Double?) -> String {
    guard let value, value.isFinite else { return "-" }
    return String(format: "%.1f%%", value * 100)
  }

  private static func delta(_ kernel: Double?, _ backbone: Double?) -> String {
    guard let kernel, let backbone, kernel.isFinite, backbone.isFinite else { return "-" }
    let points = (kernel - backbone) * 100
    let sign = points > 0 ? "+" : (points < 0 ? "−" : "±")
    let kind = points > 0.005 ? "gain" : (points < -0.005 ? "loss" : "even")
    return "<span class=\"\(kind)\">\(sign)\(String(format: "%.2f", abs(points)))</span>"
  }

  private static let style = """
    :root{color-scheme:light;--ink:#1d2330;--muted:#5d6470;--line:#d9dde3;--soft:#f5f7fa}
    *{box-sizing:border-box}
    body{margin:0;font:14px/1.45 -apple-system,"Segoe UI","DejaVu Sans",Arial,sans-serif;\
    color:var(--ink);background:#fff}
    header,main{max-width:1140px;margin:0 auto;padding:0 24px}
    header{padding-top:20px;border-bottom:1px solid var(--line)}
    h1{font-size:24px;margin:0 0 6px}
    h2{font-size:18px;margin:28px 0 8px;display:flex;gap:8px;align-items:center;flex-wrap:wrap}
    h3{font-size:15px;margin:18px 0 6px}
    .meta{color:var(--muted);margin:0 0 14px}
    .problem{color:#8a1c1c;background:#fdecea;padding:6px 10px;border-radius:4px}
    code{font-family:"DejaVu Sans Mono",monospace;font-size:12px}
    dl.figures{display:flex;flex-wrap:wrap;gap:10px;margin:8px 0 16px}
    dl.figures div{background:var(--soft);border:1px solid var(--line);border-radius:6px;\
    padding:6px 12px;min-width:120px}
    dt{color:var(--muted);font-size:12px}
    dd{margin:0;font-size:18px;font-weight:600}
    table{border-collapse:collapse;width:100%;margin:6px 0 12px}
    th,td{border-bottom:1px solid var(--line);padding:4px 8px;text-align:left;vertical-align:top}
    th{background:var(--soft);font-weight:600;font-size:12px;color:var(--muted)}
    td.num{text-align:right;font-variant-numeric:tabular-nums}
    tr.cleared td{color:var(--muted)}
    td.time,table.domains td:first-child{white-space:nowrap}
    .gain{color:#1b7f3b;font-weight:600}
    .loss{color:#b3261e;font-weight:600}
    .even{color:var(--muted)}
    .badge{display:inline-block;font-size:11px;font-weight:600;padding:1px 7px;\
    border-radius:10px;border:1px solid var(--line)}
    .badge.on{background:#e3f4e8;color:#1b7f3b;border-color:#b7e0c3}
    .badge.off{background:#fdecea;color:#b3261e;border-color:#f3b8b2}
    .badge.idle{background:var(--soft);color:var(--muted)}
    .sev-critical{background:#fdecea;color:#b3261e}
    .sev-warning{background:#fff3e0;color:#a05a00}
    .sev-info{background:#e8f0fa;color:#2b5c99}
    .version{font-size:12px;color:var(--muted);font-weight:400}
    section.domain{border-top:1px solid var(--line);margin-top:18px}
    .facts{color:var(--muted);margin:0 0 8px}
    .quiet{color:var(--muted)}
    .charts{display:grid;grid-template-columns:repeat(2,540px);gap:10px 30px}
    svg text{font-family:-apple-system,"Segoe UI","DejaVu Sans",Arial,sans-serif}
    .chart-title{font-size:12px;font-weight:600;fill:var(--ink)}
    .legend,.tick{font-size:10px;fill:var(--muted)}
    .empty{font-size:12px;fill:var(--muted)}
    .plot{fill:#fbfcfd;stroke:var(--line)}
    .grid{stroke:#e8ebef;stroke-width:1}
    .lane{fill:var(--soft)}
    rect.open{opacity:.75}
    .action{fill:#1d2330;stroke:#fff;stroke-width:1}
    .top{font-size:12px}
    a{color:#1f6fb2}
    """
}
