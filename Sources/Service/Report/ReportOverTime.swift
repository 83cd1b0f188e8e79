import Foundation

/// The report's overview over time, above the per-domain sections: how kernels compare with the
/// backbone across all domains as the stream went on, by window, and how many alerts fired a
/// day.
enum ReportOverTime {
  /// One window's figures: its domains' newest serving-time AUCs, weighted by their examples.
  struct Window: Equatable {
    var name: String
    var domains: Int
    var examples: Double
    var kernelAUC: Double?
    var backboneAUC: Double?
    var servedAUC: Double?
  }

  /// The windows of `model` in name order (a domain `1998-03/5` is window `1998-03`, region `5`).
  static func windows(_ model: ReportModel) -> [Window] {
    let byWindow = Dictionary(grouping: model.domains) { domain in
      String(domain.name.prefix { $0 != "/" })
    }
    return byWindow.keys.sorted().map { name in
      let domains = byWindow[name]!
      let rows = domains.map(\.latest)
      return Window(
        name: name, domains: domains.count,
        examples: rows.reduce(0) { $0 + weight($1) },
        kernelAUC: weightedMean(rows, "auc"), backboneAUC: weightedMean(rows, "backbone_auc"),
        servedAUC: weightedMean(rows, "served_auc"))
    }
  }

  /// For each retained snapshot, the example-weighted mean over the domains it holds of each of
  /// `keys` (at the snapshot's stream event time, or its version when times are unknown).
  static func snapshots(_ model: ReportModel, keys: [String]) -> [(
    version: Int, eventTimeMs: Int64?, means: [String: Double]
  )] {
    var rows: [Int: [(eventTimeMs: Int64?, stats: [String: Double])]] = [:]
    for domain in model.domains {
      for point in domain.points {
        rows[point.snapshotVersion, default: []].append((point.eventTimeMs, point.stats))
      }
    }
    return rows.keys.sorted().map { version in
      let points = rows[version]!
      var means: [String: Double] = [:]
      for key in keys { means[key] = weightedMean(points.map(\.stats), key) }
      return (version, points.compactMap(\.eventTimeMs).max(), means)
    }
  }

  /// Alert firings per event-time day (UTC), in day order.
  static func firingsPerDay(_ model: ReportModel) -> [(day: String, firings: Int)] {
    let days = model.domains.flatMap(\.alerts).filter(\.isFiring).map {
      RFC3339.date(milliseconds: $0.eventTimeMs)
    }
    return Dictionary(grouping: days) { $0 }.map { ($0.key, $0.value.count) }
      .sorted { $0.day < $1.day }
  }

  /// The overview-over-time block: a chart of the snapshots' example-weighted AUCs, a table
  /// and chart by window, and the alert firings per day.
  static func html(_ model: ReportModel) -> String {
    var html =
      "<h3>Over time</h3>\n<p class=\"quiet\">AUC at serving time (each impression scored "
      + "when it arrived), example-weighted over the domains; served is the kernel where it "
      + "served, else the backbone.</p>\n<div class=\"charts\">\n"
    let snapshots = snapshots(model, keys: ["auc", "backbone_auc", "served_auc"])
    let byTime = !snapshots.isEmpty && snapshots.allSatisfy { $0.eventTimeMs != nil }
    func series(_ name: String, _ key: String, _ color: String, dashed: Bool = false)
      -> SVGLineChart.Series
    {
      SVGLineChart.Series(
        name: name, color: color,
        points: snapshots.compactMap { snapshot in
          snapshot.means[key].map { value in
            let x = byTime ? Double(snapshot.eventTimeMs!) : Double(snapshot.version)
            return SVGLineChart.Point(
              x: x, y: value,
              note: "\(SVGLineChart.label(value, step: 0.0001)) (snapshot \(snapshot.version))")
          }
        }, isDashed: dashed)
    }
    if snapshots.count >= 2 {
      html +=
        SVGLineChart(
          title: "AUC, all domains, by snapshot",
          series: [
            series("kernel", "auc", kernelColor), series("served", "served_auc", servedColor),
            series("backbone", "backbone_auc", backboneColor, dashed: true),
          ], xAxis: byTime ? .eventTime : .number(prefix: "#")
        ).svg() + "\n"
    }
    let windows = windows(model)
    if windows.count >= 2 {
      func points(_ value: (Window) -> Double?) -> [SVGLineChart.Point] {
        windows.enumerated().compactMap { index, window in
          value(window).map {
            SVGLineChart.Point(
              x: Double(index), y: $0,
              note: "\(window.name): \(SVGLineChart.label($0, step: 0.0001)) over "
                + "\(window.domains) domain(s)")
          }
        }
      }
      html +=
        SVGLineChart(
          title: "AUC by window",
          series: [
            .init(name: "kernel", color: kernelColor, points: points(\.kernelAUC)),
            .init(name: "served", color: servedColor, points: points(\.servedAUC)),
            .init(
              name: "backbone", color: backboneColor, points: points(\.backboneAUC),
              isDashed: true),
          ], xAxis: .categories(windows.map(\.name))
        ).svg() + "\n"
    }
    let days = firingsPerDay(model)
    if !days.isEmpty {
      html += SVGBarChart(title: "Alerts fired per day (UTC, event time)", bars: days).svg() + "\n"
    }
    html += "</div>\n"
    if snapshots.count < 2 && windows.count < 2 && days.isEmpty {
      html +=
        "<p class=\"quiet\">One snapshot and one window so far: the charts over time appear "
        + "once there are two.</p>\n"
    }
    if !windows.isEmpty {
      html += """
        <table class="windows">
        <thead><tr><th>Window</th><th>Domains</th><th>Examples</th><th>Kernel AUC</th>\
        <th>Served AUC</th><th>Backbone AUC</th><th>Δ served (points)</th></tr></thead>
        <tbody>

        """
      for window in windows {
        html += "<tr><td>\(HTMLText.escape(window.name))</td>"
        html += "<td class=\"num\">\(window.domains)</td>"
        html += "<td class=\"num\">\(Int(window.examples))</td>"
        html += "<td class=\"num\">\(fixed(window.kernelAUC))</td>"
        html += "<td class=\"num\">\(fixed(window.servedAUC))</td>"
        html += "<td class=\"num\">\(fixed(window.backboneAUC))</td>"
        let delta = window.servedAUC.flatMap { served in
          window.backboneAUC.map { String(format: "%+.2f", 100 * (served - $0)) }
        }
        html += "<td class=\"num\">\(delta ?? "-")</td></tr>\n"
      }
      html += "</tbody>\n</table>\n"
    }
    return html
  }

  static let kernelColor = "#1f6fb2"
  static let servedColor = "#2e8b57"
  static let backboneColor = "#8a8f98"

  /// A row's weight: its serving-time examples when it has them, else its examples.
  private static func weight(_ row: [String: Double]) -> Double {
    row["serving_examples"] ?? row["examples"] ?? 0
  }

  private static func weightedMean(_ rows: [[String: Double]], _ key: String) -> Double? {
    var sum = 0.0
    var total = 0.0
    for row in rows {
      guard let value = row[key], value.isFinite else { continue }
      let weight = weight(row)
      sum += value * weight
      total += weight
    }
    return total > 0 ? sum / total : nil
  }

  private static func fixed(_ value: Double?) -> String {
    guard let value, value.isFinite else { return "-" }
    return String(format: "%.4f", value)
  }
}

/// A bar chart of counts by label as inline SVG (no script): one bar per label, its count on
/// hover.
struct SVGBarChart {
  var title: String
  var bars: [(day: String, firings: Int)]
  var width = 1090
  var height = 170

  private let left = 54.0
  private let right = 14.0
  private let top = 30.0
  private let bottom = 28.0

  /// The chart as an `<svg>` element.
  func svg() -> String {
    var out =
      "<svg class=\"chart wide\" xmlns=\"http://www.w3.org/2000/svg\" width=\"\(width)\" "
      + "height=\"\(height)\" viewBox=\"0 0 \(width) \(height)\" role=\"img\" "
      + "aria-label=\"\(HTMLText.escape(title))\">"
    out += "<text class=\"chart-title\" x=\"\(left)\" y=\"16\">\(HTMLText.escape(title))</text>"
    let plotWidth = Double(width) - left - right
    let plotHeight = Double(height) - top - bottom
    out +=
      "<rect class=\"plot\" x=\"\(left)\" y=\"\(top)\" width=\"\(plotWidth)\" "
      + "height=\"\(plotHeight)\"/>"
    let (_, high, step) = SVGLineChart.niceRange(bars.map { Double($0.firings) } + [0])
    var tick = 0.0
    while tick <= high + step / 2 {
      let y = SVGLineChart.format(top + (high - tick) / high * plotHeight)
      out +=
        "<line class=\"grid\" x1=\"\(left)\" y1=\"\(y)\" x2=\"\(left + plotWidth)\" y2=\"\(y)\"/>"
        + "<text class=\"tick\" x=\"\(left - 6)\" y=\"\(y)\" text-anchor=\"end\" "
        + "dominant-baseline=\"middle\">\(SVGLineChart.label(tick, step: step))</text>"
      tick += step
    }
    let slot = plotWidth / Double(max(1, bars.count))
    let labelEvery = max(1, Int((Double(bars.count) * 80 / plotWidth).rounded(.up)))
    for (index, bar) in bars.enumerated() {
      let barHeight = Double(bar.firings) / high * plotHeight
      let x = left + slot * Double(index) + slot * 0.15
      out +=
        "<rect class=\"bar\" x=\"\(SVGLineChart.format(x))\" "
        + "y=\"\(SVGLineChart.format(top + plotHeight - barHeight))\" "
        + "width=\"\(SVGLineChart.format(slot * 0.7))\" height=\"\(SVGLineChart.format(barHeight))\" "
        + "fill=\"#ef8f00\"><title>\(HTMLText.escape(bar.day)): \(bar.firings) firing(s)</title>"
        + "</rect>"
      if index % labelEvery == 0 {
        out +=
          "<text class=\"tick\" x=\"\(SVGLineChart.format(x + slot * 0.35))\" "
          + "y=\"\(Double(height) - 10)\" text-anchor=\"middle\">\(HTMLText.escape(bar.day))</text>"
      }
    }
    return out + "</svg>"
  }
}
