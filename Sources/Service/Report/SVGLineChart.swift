import Foundation

/// A small line chart rendered as inline SVG (no script, no external resources): a title and
/// legend, a y axis with rounded ticks, an x axis of event time or of plain numbers, one
/// polyline per series, and a dot per point whose `<title>` is shown on hover.
struct SVGLineChart {
  /// One point; `note` is its hover text.
  struct Point {
    var x: Double
    var y: Double
    var note: String
  }

  /// One line.
  struct Series {
    var name: String
    var color: String
    var points: [Point]
    var isDashed = false
  }

  /// What the x values are.
  enum XAxis {
    /// Milliseconds since the Unix epoch, labelled as dates.
    case eventTime
    /// Plain numbers, labelled with a prefix (e.g. "snapshot ").
    case number(prefix: String)
    /// Named categories: x is the index of the name (e.g. windows `1998-01`, `1998-02`).
    case categories([String])
  }

  var title: String
  var series: [Series]
  var xAxis: XAxis
  /// Values the y axis must include (e.g. 0 for counts, 0.5 for an AUC).
  var yIncludes: [Double] = []
  var width = 540
  var height = 210

  private let left = 54.0
  private let right = 14.0
  private let top = 30.0
  private let bottom = 28.0

  /// The chart as an `<svg>` element.
  func svg() -> String {
    let points = series.flatMap(\.points).filter { $0.x.isFinite && $0.y.isFinite }
    var out =
      "<svg class=\"chart\" xmlns=\"http://www.w3.org/2000/svg\" width=\"\(width)\" "
      + "height=\"\(height)\" viewBox=\"0 0 \(width) \(height)\" role=\"img\" "
      + "aria-label=\"\(HTMLText.escape(title))\">"
    out += "<text class=\"chart-title\" x=\"\(left)\" y=\"16\">\(HTMLText.escape(title))</text>"
    out += legend()
    let plotWidth = Double(width) - left - right
    let plotHeight = Double(height) - top - bottom
    out +=
      "<rect class=\"plot\" x=\"\(left)\" y=\"\(top)\" width=\"\(plotWidth)\" "
      + "height=\"\(plotHeight)\"/>"
    guard !points.isEmpty else {
      out +=
        "<text class=\"empty\" x=\"\(left + plotWidth / 2)\" y=\"\(top + plotHeight / 2)\" "
        + "text-anchor=\"middle\">no data</text></svg>"
      return out
    }
    let (yLow, yHigh, yStep) = Self.niceRange(points.map(\.y) + yIncludes)
    var xLow = points.map(\.x).min()!
    var xHigh = points.map(\.x).max()!
    if case .categories = xAxis {
      xLow -= 0.5
      xHigh += 0.5
    } else if xHigh == xLow {
      let pad: Double =
        switch xAxis {
        case .eventTime: 3_600_000
        case .number, .categories: 1
        }
      xLow -= pad
      xHigh += pad
    }
    func px(_ x: Double) -> Double { left + (x - xLow) / (xHigh - xLow) * plotWidth }
    func py(_ y: Double) -> Double { top + (yHigh - y) / (yHigh - yLow) * plotHeight }

    var tick = yLow
    while tick <= yHigh + yStep / 2 {
      let y = Self.format(py(tick))
      out +=
        "<line class=\"grid\" x1=\"\(left)\" y1=\"\(y)\" x2=\"\(left + plotWidth)\" y2=\"\(y)\"/>"
      out +=
        "<text class=\"tick\" x=\"\(left - 6)\" y=\"\(y)\" text-anchor=\"end\" "
        + "dominant-baseline=\"middle\">\(Self.label(tick, step: yStep))</text>"
      tick += yStep
    }
    if case .categories(let names) = xAxis {
      // Every name that fits, about 60 pixels apart.
      let every = max(1, Int((Double(names.count) * 60 / plotWidth).rounded(.up)))
      for (index, name) in names.enumerated() where index % every == 0 {
        out +=
          "<text class=\"tick\" x=\"\(Self.format(px(Double(index))))\" "
          + "y=\"\(Double(height) - 10)\" text-anchor=\"middle\">\(HTMLText.escape(name))</text>"
      }
    } else {
      for index in 0...4 {
        let x = xLow + (xHigh - xLow) * Double(index) / 4
        let anchor = index == 0 ? "start" : (index == 4 ? "end" : "middle")
        out +=
          "<text class=\"tick\" x=\"\(Self.format(px(x)))\" y=\"\(Double(height) - 10)\" "
          + "text-anchor=\"\(anchor)\">\(HTMLText.escape(xLabel(x, span: xHigh - xLow)))</text>"
      }
    }
    for line in series {
      let sorted = line.points.filter { $0.x.isFinite && $0.y.isFinite }.sorted { $0.x < $1.x }
      guard !sorted.isEmpty else { continue }
      let coordinates = sorted.map { "\(Self.format(px($0.x))),\(Self.format(py($0.y)))" }
      out +=
        "<polyline class=\"line\" fill=\"none\" stroke=\"\(line.color)\" stroke-width=\"2\""
        + (line.isDashed ? " stroke-dasharray=\"5 3\"" : "")
        + " points=\"\(coordinates.joined(separator: " "))\"/>"
      for (point, coordinate) in zip(sorted, coordinates) {
        let parts = coordinate.split(separator: ",")
        out +=
          "<circle cx=\"\(parts[0])\" cy=\"\(parts[1])\" r=\"2.5\" fill=\"\(line.color)\">"
          + "<title>\(HTMLText.escape(line.name + ": " + point.note))</title></circle>"
      }
    }
    return out + "</svg>"
  }

  private func legend() -> String {
    var out = ""
    var x = Double(width) - right
    for line in series.reversed() {
      let textWidth = Double(line.name.count) * 6.5
      x -= textWidth
      out +=
        "<text class=\"legend\" x=\"\(Self.format(x))\" y=\"16\">"
        + "\(HTMLText.escape(line.name))</text>"
      x -= 18
      out +=
        "<line x1=\"\(Self.format(x))\" y1=\"12\" x2=\"\(Self.format(x + 14))\" y2=\"12\" "
        + "stroke=\"\(line.color)\" stroke-width=\"2\""
        + (line.isDashed ? " stroke-dasharray=\"4 2\"" : "") + "/>"
      x -= 12
    }
    return out
  }

  private func xLabel(_ x: Double, span: Double) -> String {
    switch xAxis {
    case .eventTime:
      let milliseconds = Int64(x.rounded())
      return span > 4 * 86_400_000
        ? RFC3339.date(milliseconds: milliseconds) : RFC3339.minute(milliseconds: milliseconds)
    case .number(let prefix):
      return prefix + (span >= 8 ? String(Int(x.rounded())) : Self.label(x, step: span / 4))
    case .categories(let names):
      let index = Int(x.rounded())
      return names.indices.contains(index) ? names[index] : ""
    }
  }

  /// A range covering `values` with bounds and a step on a 1-2-5 grid, about 4 steps tall.
  static func niceRange(_ values: [Double]) -> (low: Double, high: Double, step: Double) {
    var low = values.min() ?? 0
    var high = values.max() ?? 1
    if high - low < 1e-12 {
      let pad = max(abs(high) * 0.05, 1e-3)
      low -= pad
      high += pad
    }
    let raw = (high - low) / 4
    let magnitude = pow(10, floor(log10(raw)))
    let fraction = raw / magnitude
    let step = magnitude * (fraction <= 1 ? 1 : fraction <= 2 ? 2 : fraction <= 5 ? 5 : 10)
    return ((low / step).rounded(.down) * step, (high / step).rounded(.up) * step, step)
  }

  /// `value` with as many decimals as `step` needs.
  static func label(_ value: Double, step: Double) -> String {
    let decimals = step > 0 ? max(0, min(6, Int((-log10(step)).rounded(.up)))) : 2
    let text = String(format: "%.\(decimals)f", value)
    return text == "-0" || text.hasPrefix("-0.") && Double(text) == 0
      ? String(text.dropFirst()) : text
  }

  /// A coordinate with one decimal.
  static func format(_ value: Double) -> String { String(format: "%.1f", value) }
}
