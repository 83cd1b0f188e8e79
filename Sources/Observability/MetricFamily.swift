import Synchronization

/// One named metric with its help text, type and labelled series.
public final class MetricFamily: Sendable {
  /// The Prometheus metric type.
  public enum Kind: String, Sendable {
    /// Only goes up (resets on restart).
    case counter
    /// Goes up and down.
    case gauge
    /// Observations counted into buckets.
    case histogram
  }

  /// The metric name, e.g. `iak_events_total`.
  public let name: String
  /// The `# HELP` text.
  public let help: String
  /// The metric type.
  public let kind: Kind
  /// The label names, in order.
  public let labelNames: [String]
  /// Histogram upper bounds (empty for counters and gauges).
  public let buckets: [Double]
  private let series = Mutex<[[String]: Metric]>([:])

  init(name: String, help: String, kind: Kind, labelNames: [String], buckets: [Double]) {
    self.name = name
    self.help = help
    self.kind = kind
    self.labelNames = labelNames
    self.buckets = buckets
  }

  /// Returns the series for `labelValues` (one per label name, in order), creating it.
  public func with(_ labelValues: String...) -> Metric { with(labelValues) }

  /// Returns the series for `labelValues` (one per label name, in order), creating it.
  public func with(_ labelValues: [String]) -> Metric {
    precondition(
      labelValues.count == labelNames.count,
      "metric \(name) takes labels \(labelNames), got \(labelValues.count) values")
    return series.withLock { series in
      if let existing = series[labelValues] { return existing }
      let made = Metric(bounds: buckets)
      series[labelValues] = made
      return made
    }
  }

  /// Removes the series for `labelValues`, e.g. when a domain is dropped.
  public func remove(_ labelValues: [String]) {
    _ = series.withLock { $0.removeValue(forKey: labelValues) }
  }

  /// Removes every series whose label values (in `labelNames` order) satisfy `isRemoved`.
  /// In place: the other series stay where they are (a family with a series per domain was
  /// rebuilt whole for each domain retired).
  public func removeSeries(where isRemoved: ([String]) -> Bool) {
    series.withLock { series in
      for labelValues in series.keys.filter(isRemoved) { series.removeValue(forKey: labelValues) }
    }
  }

  func render(into out: inout String) {
    let rows = series.withLock { $0.map { ($0.key, $0.value) } }.sorted {
      $0.0.lexicographicallyPrecedes($1.0)
    }
    out += "# HELP \(name) \(Self.escapeHelp(help))\n# TYPE \(name) \(kind.rawValue)\n"
    for (values, metric) in rows {
      let pairs = zip(labelNames, values).map { "\($0)=\"\(Self.escapeLabel($1))\"" }
      let state = metric.state
      switch kind {
      case .counter, .gauge:
        out += "\(name)\(Self.braces(pairs)) \(Self.format(state.value))\n"
      case .histogram:
        var cumulative: UInt64 = 0
        for (index, bound) in buckets.enumerated() {
          cumulative += state.bucketCounts[index]
          let le = pairs + ["le=\"\(Self.format(bound))\""]
          out += "\(name)_bucket\(Self.braces(le)) \(cumulative)\n"
        }
        let infinity = pairs + ["le=\"+Inf\""]
        out += "\(name)_bucket\(Self.braces(infinity)) \(state.count)\n"
        out += "\(name)_sum\(Self.braces(pairs)) \(Self.format(state.value))\n"
        out += "\(name)_count\(Self.braces(pairs)) \(state.count)\n"
      }
    }
  }

  private static func braces(_ pairs: [String]) -> String {
    pairs.isEmpty ? "" : "{" + pairs.joined(separator: ",") + "}"
  }

  static func format(_ value: Double) -> String {
    if value.isNaN { return "NaN" }
    if value.isInfinite { return value > 0 ? "+Inf" : "-Inf" }
    if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
    return "\(value)"
  }

  private static func escapeLabel(_ value: String) -> String {
    var out = ""
    for character in value {
      switch character {
      case "\\": out += "\\\\"
      case "\"": out += "\\\""
      case "\n": out += "\\n"
      default: out.append(character)
      }
    }
    return out
  }

  private static func escapeHelp(_ value: String) -> String {
    value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\n", with: "\\n")
  }
}
