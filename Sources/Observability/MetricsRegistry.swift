import Synchronization

/// A registry of metric families, rendered in the Prometheus text exposition format (0.0.4).
///
/// Families are created once (usually at start-up) and their series are cheap to update from
/// any thread. Asking twice for the same family returns the same one; asking for an existing
/// name with another type or other label names is a programming error and traps.
public final class MetricsRegistry: Sendable {
  private let families = Mutex<[String: MetricFamily]>([:])
  private let collectors = Mutex<[@Sendable () -> Void]>([])

  /// Creates an empty registry.
  public init() {}

  /// Returns the counter family `name`, creating it on first use.
  public func counter(_ name: String, help: String, labels: [String] = []) -> MetricFamily {
    family(name, help: help, type: .counter, labels: labels, buckets: [])
  }

  /// Returns the gauge family `name`, creating it on first use.
  public func gauge(_ name: String, help: String, labels: [String] = []) -> MetricFamily {
    family(name, help: help, type: .gauge, labels: labels, buckets: [])
  }

  /// Returns the histogram family `name` with upper bounds `buckets`, creating it on first use.
  public func histogram(
    _ name: String, help: String, labels: [String] = [], buckets: [Double]
  ) -> MetricFamily {
    family(name, help: help, type: .histogram, labels: labels, buckets: buckets.sorted())
  }

  /// Removes, from every family with a label called `label`, the series whose `label` is
  /// `value` (e.g. every series of a domain that was dropped), so that label values that come
  /// and go do not accumulate.
  public func removeSeries(where label: String, is value: String) {
    removeSeries(where: label, isIn: [value])
  }

  /// `removeSeries(where:is:)` for each of `values`, with one pass over each family.
  public func removeSeries(where label: String, isIn values: Set<String>) {
    guard !values.isEmpty else { return }
    let snapshot = families.withLock { Array($0.values) }
    for family in snapshot {
      guard let index = family.labelNames.firstIndex(of: label) else { continue }
      family.removeSeries { values.contains($0[index]) }
    }
  }

  /// Adds `collect`, called at the start of every `render()` to refresh series whose values
  /// are read rather than pushed (the process's CPU time and memory, read from /proc).
  public func addCollector(_ collect: @escaping @Sendable () -> Void) {
    collectors.withLock { $0.append(collect) }
  }

  /// Renders every family, sorted by name, in the Prometheus text format (after running the
  /// collectors).
  public func render() -> String {
    for collect in collectors.withLock({ $0 }) { collect() }
    let snapshot = families.withLock { $0.values.sorted { $0.name < $1.name } }
    var out = ""
    for family in snapshot { family.render(into: &out) }
    return out
  }

  private func family(
    _ name: String, help: String, type: MetricFamily.Kind, labels: [String], buckets: [Double]
  ) -> MetricFamily {
    families.withLock { families in
      if let existing = families[name] {
        precondition(
          existing.kind == type && existing.labelNames == labels,
          "metric \(name) registered twice with different type or labels")
        return existing
      }
      let made = MetricFamily(
        name: name, help: help, kind: type, labelNames: labels, buckets: buckets)
      families[name] = made
      return made
    }
  }
}
