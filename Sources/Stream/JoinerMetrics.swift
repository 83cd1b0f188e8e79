import Observability

/// The label joiner's metric series, looked up once.
struct JoinerMetrics: Sendable {
  /// Why a click labelled nothing; the `reason` label of `iak_label_clicks_dropped_total`.
  enum DroppedClick: String, CaseIterable {
    case duplicate, late, orphan, overflow
  }

  let examples: [LabelJoiner.Outcome: Metric]
  let droppedClicks: [DroppedClick: Metric]
  let duplicateImpressions: Metric
  let pending: Metric

  init(registry: MetricsRegistry) {
    let examples = registry.counter(
      "iak_label_examples_total", help: "Labelled examples emitted by the joiner, by outcome.",
      labels: ["outcome"])
    self.examples = Dictionary(
      uniqueKeysWithValues: LabelJoiner.Outcome.allCases.map { ($0, examples.with($0.rawValue)) })
    let dropped = registry.counter(
      "iak_label_clicks_dropped_total", help: "Clicks that labelled no impression, by reason.",
      labels: ["reason"])
    droppedClicks = Dictionary(
      uniqueKeysWithValues: DroppedClick.allCases.map { ($0, dropped.with($0.rawValue)) })
    duplicateImpressions = registry.counter(
      "iak_label_duplicate_impressions_total",
      help: "Impressions dropped because their id was already known."
    ).with([])
    pending = registry.gauge(
      "iak_label_pending", help: "Impressions waiting for their click."
    ).with([])
  }
}
