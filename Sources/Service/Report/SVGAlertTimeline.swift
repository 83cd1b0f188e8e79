/// One domain's alerts on an event-time axis as inline SVG: one lane per detector, a bar from
/// each firing to its clearing (to the end of the axis while still firing), coloured by
/// severity, and a diamond where an action changed the kernel (deactivate, reset, rollback).
/// Hover text (`<title>`) gives the details.
struct SVGAlertTimeline {
  /// A detector's firing, from `start` to `end` (nil: not cleared in the data).
  struct Interval {
    var start: Int64
    var end: Int64?
    var note: String
  }

  /// An action taken at `time`.
  struct Mark {
    var time: Int64
    var note: String
  }

  /// One detector's row.
  struct Lane {
    var name: String
    var color: String
    var intervals: [Interval]
    var marks: [Mark]
  }

  var lanes: [Lane]
  var from: Int64
  var through: Int64
  var width = 1090

  private let left = 150.0
  private let right = 14.0
  private let laneHeight = 22.0
  private let top = 8.0

  /// The timeline as an `<svg>` element.
  func svg() -> String {
    let height = Int(top + laneHeight * Double(max(1, lanes.count)) + 26)
    var out =
      "<svg class=\"timeline\" xmlns=\"http://www.w3.org/2000/svg\" width=\"\(width)\" "
      + "height=\"\(height)\" viewBox=\"0 0 \(width) \(height)\" role=\"img\" "
      + "aria-label=\"alerts timeline\">"
    let plotWidth = Double(width) - left - right
    var low = Double(from)
    var high = Double(through)
    if high <= low {
      low -= 3_600_000
      high += 3_600_000
    }
    func px(_ time: Int64) -> Double {
      left + min(max((Double(time) - low) / (high - low), 0), 1) * plotWidth
    }
    for (index, lane) in lanes.enumerated() {
      let y = top + laneHeight * Double(index)
      out +=
        "<rect class=\"lane\" x=\"\(left)\" y=\"\(f(y + 2))\" width=\"\(f(plotWidth))\" "
        + "height=\"\(f(laneHeight - 4))\"/>"
      out +=
        "<text class=\"tick\" x=\"\(left - 8)\" y=\"\(f(y + laneHeight / 2))\" "
        + "text-anchor=\"end\" dominant-baseline=\"middle\">\(HTMLText.escape(lane.name))</text>"
      for interval in lane.intervals {
        let start = px(interval.start)
        let end = interval.end.map(px) ?? (left + plotWidth)
        out +=
          "<rect x=\"\(f(start))\" y=\"\(f(y + 4))\" width=\"\(f(max(3, end - start)))\" "
          + "height=\"\(f(laneHeight - 8))\" fill=\"\(lane.color)\" rx=\"2\""
          + (interval.end == nil ? " class=\"open\"" : "") + ">"
          + "<title>\(HTMLText.escape(interval.note))</title></rect>"
      }
      for mark in lane.marks {
        let x = px(mark.time)
        let middle = y + laneHeight / 2
        out +=
          "<path class=\"action\" d=\"M\(f(x)) \(f(middle - 7)) L\(f(x + 6)) \(f(middle)) "
          + "L\(f(x)) \(f(middle + 7)) L\(f(x - 6)) \(f(middle)) Z\">"
          + "<title>\(HTMLText.escape(mark.note))</title></path>"
      }
    }
    let axis = top + laneHeight * Double(max(1, lanes.count)) + 16
    let span = Int64(high - low)
    for index in 0...4 {
      let time = Int64(low) + span * Int64(index) / 4
      let anchor = index == 0 ? "start" : (index == 4 ? "end" : "middle")
      let label =
        span > 4 * 86_400_000
        ? RFC3339.date(milliseconds: time) : RFC3339.minute(milliseconds: time)
      out +=
        "<text class=\"tick\" x=\"\(f(px(time)))\" y=\"\(f(axis))\" text-anchor=\"\(anchor)\">"
        + "\(label)</text>"
    }
    return out + "</svg>"
  }

  private func f(_ value: Double) -> String { SVGLineChart.format(value) }
}
