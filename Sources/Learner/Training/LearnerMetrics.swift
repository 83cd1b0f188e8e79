import Observability
import Synchronization

/// The Learner's Prometheus metrics, registered once and filled by `Trainer.publish(to:)`.
///
/// Every series has a `domain` label, bounded by `maxDomains` (`metrics.max_domains`): the most
/// recently seen domains (newest example event time, then name) have their own value, the others
/// are aggregated under `domain="_other"` (`otherDomain`): the `_other` counters (examples,
/// batches) count what the domains trained while they were in it, so they never go down and
/// `sum(rate())` over `domain` stays right; the gauges (kernels serving, kernel examples) are
/// sums over the current members; the quality gauges
/// are those of the pooled scores of their windows (window AUC and log loss; the cumulative AUC
/// from their pooled histograms); per-kernel figures (version, proxies) have no `_other` value.
/// Quality series also have `model`: at serving time (each impression scored when it arrived, the headline figures)
/// "kernel" (the domain's kernel or other adaptation, whether or not it served), "backbone" and
/// "served" (what a serving system showed); the training-time diagnostic (scored when the batch
/// closed, after the label wait: it leaks labels a live kernel would not have had)
/// "training_kernel" and "training_backbone".
public final class LearnerMetrics: Sendable {
  /// `iak_learner_examples_total{domain}`: examples trained on.
  public let examples: MetricFamily
  /// `iak_learner_batches_total{domain}`: batches closed.
  public let batches: MetricFamily
  /// `iak_learner_window_auc{domain,model}`: prequential AUC over the sliding window.
  public let windowAUC: MetricFamily
  /// `iak_learner_cumulative_auc{domain,model}`: prequential AUC over every example.
  public let cumulativeAUC: MetricFamily
  /// `iak_learner_window_logloss{domain,model}`: prequential log loss over the window, nats.
  public let windowLogLoss: MetricFamily
  /// `iak_kernel_active{domain}`: 1 when the domain's kernel serves (see `publish(to:isServing:)`).
  public let active: MetricFamily
  /// `iak_kernel_kl_nats{domain}`: E[KL], the upper bound of I(X;Z).
  public let kl: MetricFamily
  /// `iak_kernel_active_units{domain}`: bottleneck dimensions above the KL threshold.
  public let activeUnits: MetricFamily
  /// `iak_kernel_relevance_nats{domain,model}`: H(Y) - CE of the batches as the trainer scored
  /// them (model "training_kernel" or "training_backbone": a diagnostic, after the label wait),
  /// in nats like `iak_kernel_kl_nats` (promtool's lint refuses a `bits` unit).
  public let relevance: MetricFamily
  /// `iak_kernel_decoder_norm_ratio{domain}`: mean |delta| / mean |h|.
  public let decoderNormRatio: MetricFamily
  /// `iak_kernel_mu_variance{domain}`: batch variance of mu, averaged over dimensions.
  public let muVariance: MetricFamily
  /// `iak_kernel_version{domain}`: the kernel version last allocated (what the kernels topic
  /// holds or will hold); no `_other` value.
  public let version: MetricFamily
  /// `iak_kernel_examples{domain}`: examples the kernel trained on, those of the domains it was
  /// warm-started from included (`kernel_examples`).
  public let kernelExamples: MetricFamily
  /// `iak_domain_click_delay_seconds{domain,share}`: the upper bound of the delay bucket
  /// (`ClickDelays.bucketBounds`) holding the 0.5, 0.9 and 0.99 quantiles (`share`) of the
  /// clicks the domain trained on, in a delayed-feedback `label.mode` (the label is not named
  /// `quantile`: Prometheus keeps that for summaries).
  public let clickDelay: MetricFamily
  /// `iak_domain_fake_negative_rate{domain}`: provisional negatives whose click came later, over
  /// all provisional negatives (a delayed-feedback `label.mode`).
  public let fakeNegativeRate: MetricFamily
  /// `iak_metrics_other_domains`: domains aggregated under `domain="_other"`.
  public let otherDomains: MetricFamily
  /// `iak_training_step_duration_seconds`: wall time of one training step (a closed batch
  /// scored and trained with `train.steps_per_batch` optimiser steps), see `Trainer.stepDuration`.
  public let stepDuration: MetricFamily
  /// `iak_training_frozen_rows_total{source}`: rows of closed batches whose frozen layers'
  /// output was copied from their impression's serving score (`source="kept"`,
  /// `train.frozen_rows`) or computed again (`source="computed"`).
  public let frozenRows: MetricFamily
  /// `iak_training_frozen_rows_bytes`: bytes the ring of frozen rows holds (`train.frozen_rows`
  /// rows of the representation's width and a stamp each, allocated at the first impression
  /// scored; 0 before, or when `train.frozen_rows = 0`): one per process, not per domain.
  public let frozenRowBytes: MetricFamily
  /// Domains with their own `domain` label; the others are aggregated under `otherDomain`.
  public let maxDomains: Int
  /// The `domain` label value of the aggregated domains.
  public static let otherDomain = "_other"

  /// Domains with their own series at the last publication, and the aggregated ones.
  struct Labelled {
    var domains: Set<String> = []
    var others: Set<String> = []
    /// The examples and batches of each `_other` member when `_other` last counted it: the
    /// `_other` counters grow by what members trained since, never by a member's past, and
    /// never go down when a member leaves (promoted to its own label, or retired).
    var otherCounted: [String: (examples: Int, batches: Int)] = [:]
  }
  let labelled = Mutex(Labelled())

  /// Registers the families in `registry`; at most `maxDomains` domains get their own `domain`
  /// label (at least 1).
  public init(registry: MetricsRegistry, maxDomains: Int = 50) {
    self.maxDomains = max(1, maxDomains)
    examples = registry.counter(
      "iak_learner_examples_total", help: "Examples trained on.", labels: ["domain"])
    batches = registry.counter(
      "iak_learner_batches_total", help: "Batches closed.", labels: ["domain"])
    windowAUC = registry.gauge(
      "iak_learner_window_auc", help: "Prequential AUC over the sliding window.",
      labels: ["domain", "model"])
    cumulativeAUC = registry.gauge(
      "iak_learner_cumulative_auc", help: "Prequential AUC over every example.",
      labels: ["domain", "model"])
    windowLogLoss = registry.gauge(
      "iak_learner_window_logloss", help: "Prequential log loss over the window (nats).",
      labels: ["domain", "model"])
    active = registry.gauge(
      "iak_kernel_active", help: "1 when the domain's kernel serves.", labels: ["domain"])
    kl = registry.gauge(
      "iak_kernel_kl_nats", help: "E[KL] of the bottleneck (nats), bounds I(X;Z).",
      labels: ["domain"])
    activeUnits = registry.gauge(
      "iak_kernel_active_units", help: "Bottleneck dimensions whose KL exceeds the threshold.",
      labels: ["domain"])
    relevance = registry.gauge(
      "iak_kernel_relevance_nats", help: "H(Y) - CE in nats, bounds I(Z;Y).",
      labels: ["domain", "model"])
    decoderNormRatio = registry.gauge(
      "iak_kernel_decoder_norm_ratio", help: "Mean norm of the decoder output over that of h.",
      labels: ["domain"])
    muVariance = registry.gauge(
      "iak_kernel_mu_variance", help: "Batch variance of mu, averaged over dimensions.",
      labels: ["domain"])
    version = registry.gauge(
      "iak_kernel_version", help: "Version of the domain's newest kernel.", labels: ["domain"])
    kernelExamples = registry.gauge(
      "iak_kernel_examples",
      help: "Examples the kernel trained on, those of the domains it was warm-started from too.",
      labels: ["domain"])
    clickDelay = registry.gauge(
      "iak_domain_click_delay_seconds",
      help: "Upper bound of the delay bucket holding this share of the domain's click delays "
        + "(event time from impression to click; buckets 1s 5s 30s 1m 5m 15m 30m 1h 2h 6h 1d).",
      labels: ["domain", "share"])
    fakeNegativeRate = registry.gauge(
      "iak_domain_fake_negative_rate",
      help: "Provisional negatives (label.mode fake_negative, es_dfm) whose click came later, "
        + "over all the domain's provisional negatives.",
      labels: ["domain"])
    otherDomains = registry.gauge(
      "iak_metrics_other_domains",
      help: "Domains beyond metrics.max_domains, aggregated under domain=\"_other\".")
    stepDuration = registry.histogram(
      "iak_training_step_duration_seconds",
      help: "Wall time of one training step (a closed batch scored and trained).",
      buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1])
    frozenRows = registry.counter(
      "iak_training_frozen_rows_total",
      help: "Rows of closed batches whose frozen layers' output was kept from their serving "
        + "score (source=\"kept\", train.frozen_rows) or computed again (source=\"computed\").",
      labels: ["source"])
    frozenRowBytes = registry.gauge(
      "iak_training_frozen_rows_bytes",
      help: "Bytes held by the ring of frozen rows (train.frozen_rows), allocated at the first "
        + "impression scored.")
  }

  /// The families with a `domain` label.
  var domainFamilies: [MetricFamily] {
    [
      examples, batches, windowAUC, cumulativeAUC, windowLogLoss, active, kl, activeUnits,
      relevance, decoderNormRatio, muVariance, version, kernelExamples, clickDelay,
      fakeNegativeRate,
    ]
  }

  /// Removes every series of `domain` from these families (not from other families of the
  /// registry: drift series are per domain whatever the bound).
  func removeSeries(of domain: String) {
    for family in domainFamilies {
      guard let index = family.labelNames.firstIndex(of: "domain") else { continue }
      family.removeSeries { $0[index] == domain }
    }
  }
}
