import Observability

/// The label joiner's metric series, looked up once. A class: the joiner sets its gauges after
/// every event, and a struct of tables would be copied (each table retained) for each.
final class JoinerMetrics: Sendable {
  /// Why a click labelled nothing; the `reason` label of `iak_label_clicks_dropped_total`.
  enum DroppedClick: String, CaseIterable {
    case duplicate, late, orphan, overflow
  }

  /// What the joiner holds; the `kind` label of `iak_label_pending_bytes` (`LabelJoiner.HeldBytes`).
  enum HeldKind: String, CaseIterable {
    case impressions
    case earlyClicks = "early_clicks"
    case resolvedIDs = "resolved_ids"
  }

  let examples: [LabelJoiner.Outcome: Metric]
  let droppedClicks: [DroppedClick: Metric]
  let duplicateImpressions: Metric
  let pending: Metric
  let evictions: [LabelJoiner.Eviction: Metric]
  /// `iak_label_pending_bytes` by kind: impressions, early clicks, resolved ids.
  let heldBytes: (impressions: Metric, earlyClicks: Metric, resolvedIDs: Metric)
  let fakeNegatives: Metric
  let clickDelay: Metric
  /// `iak_label_checkpoint_copy_bytes`: the blocks the last checkpoint wrote, kept to copy from.
  let checkpointCopyBytes: Metric

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
    let evictions = registry.counter(
      "iak_label_evictions_total",
      help: "Impressions labelled negative early (outcome evicted), by the bound that pushed "
        + "them out: label.max_pending (count) or label.max_pending_bytes (bytes).",
      labels: ["reason"])
    self.evictions = Dictionary(
      uniqueKeysWithValues: LabelJoiner.Eviction.allCases.map {
        ($0, evictions.with($0.rawValue))
      })
    let held = registry.gauge(
      "iak_label_pending_bytes",
      help: "Bytes the joiner holds (estimated from their contents) over all partitions: waiting "
        + "impressions, early clicks and remembered ids; label.max_pending_bytes bounds each "
        + "kind per partition.",
      labels: ["kind"])
    heldBytes = (
      held.with(HeldKind.impressions.rawValue), held.with(HeldKind.earlyClicks.rawValue),
      held.with(HeldKind.resolvedIDs.rawValue)
    )
    fakeNegatives = registry.counter(
      "iak_label_fake_negatives_total",
      help: "Impressions a delayed-feedback mode (label.mode) trained on as provisional negatives "
        + "whose click came later (trained again as positives); over "
        + "iak_label_examples_total{outcome=\"provisional\"} it is the fake-negative rate."
    ).with([])
    checkpointCopyBytes = registry.gauge(
      "iak_label_checkpoint_copy_bytes",
      help: "Bytes of the joiner's state as the last checkpoint wrote it, kept in memory until "
        + "the next one, which copies the waiting impressions unchanged since from it instead of "
        + "serializing them again (about the joiner's share of a snapshot)."
    ).with([])
    clickDelay = registry.histogram(
      "iak_label_click_delay_seconds",
      help: "Event time from an impression to the click that labelled it (0 when the click "
        + "came first); per domain: iak_domain_click_delay_seconds.",
      buckets: [1, 5, 30, 60, 300, 900, 1_800, 3_600, 7_200, 21_600, 86_400]
    ).with()
  }
}
