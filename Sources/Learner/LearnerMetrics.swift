import Observability

/// The Learner's Prometheus metrics, registered once and filled by `Trainer.publish(to:)`.
///
/// Every series has a `domain` label (bounded by the number of domains); quality series also
/// have `model`: at serving time (each impression scored when it arrived, the headline figures)
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
  /// `iak_kernel_relevance_bits{domain,model}`: H(Y) - CE of the batches as the trainer scored
  /// them (model "training_kernel" or "training_backbone": a diagnostic, after the label wait).
  public let relevance: MetricFamily
  /// `iak_kernel_decoder_norm_ratio{domain}`: mean |delta| / mean |h|.
  public let decoderNormRatio: MetricFamily
  /// `iak_kernel_mu_variance{domain}`: batch variance of mu, averaged over dimensions.
  public let muVariance: MetricFamily

  /// Registers the families in `registry`.
  public init(registry: MetricsRegistry) {
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
      "iak_kernel_relevance_bits", help: "H(Y) - CE in bits, bounds I(Z;Y).",
      labels: ["domain", "model"])
    decoderNormRatio = registry.gauge(
      "iak_kernel_decoder_norm_ratio", help: "Mean norm of the decoder output over that of h.",
      labels: ["domain"])
    muVariance = registry.gauge(
      "iak_kernel_mu_variance", help: "Batch variance of mu, averaged over dimensions.",
      labels: ["domain"])
  }
}

extension Trainer {
  /// Writes the evaluation and proxies of `domains` (default: every domain) into `metrics`;
  /// `isServing` says whether a domain's kernel serves (the pipeline's decision; by default,
  /// whether it is active).
  ///
  /// AUCs are computed here (a sort of the window per domain), so call it at the metrics
  /// interval, not per batch.
  public func publish(
    to metrics: LearnerMetrics, isServing: ((String) -> Bool)? = nil, domains: [String]? = nil
  ) {
    for domain in domains ?? self.domains {
      guard let evaluation = evaluation(for: domain), let kernel = kernel(for: domain) else {
        continue
      }
      let examples = metrics.examples.with(domain)
      examples.increment(by: Double(evaluation.adapted.count) - examples.value)
      let batches = metrics.batches.with(domain)
      batches.increment(by: Double(evaluation.batches) - batches.value)
      let meters = [
        ("kernel", evaluation.servingKernel), ("backbone", evaluation.servingBackbone),
        ("served", evaluation.served), ("training_kernel", evaluation.adapted),
        ("training_backbone", evaluation.backbone),
      ]
      for (model, meter) in meters where meter.count > 0 {
        if let auc = meter.windowAUC { metrics.windowAUC.with(domain, model).set(auc) }
        if let auc = meter.cumulativeAUC { metrics.cumulativeAUC.with(domain, model).set(auc) }
        if let loss = meter.windowLogLoss { metrics.windowLogLoss.with(domain, model).set(loss) }
      }
      metrics.active.with(domain).set((isServing?(domain) ?? kernel.isActive) ? 1 : 0)
      guard config.mode == .kernel, let proxies = proxies(for: domain), proxies.batches > 0 else {
        continue
      }
      metrics.kl.with(domain).set(proxies.meanKL)
      metrics.activeUnits.with(domain).set(Double(proxies.activeUnits))
      metrics.relevance.with(domain, "training_kernel").set(proxies.kernelRelevanceBits)
      metrics.relevance.with(domain, "training_backbone").set(proxies.backboneRelevanceBits)
      metrics.decoderNormRatio.with(domain).set(proxies.relativeDecoderNorm)
      metrics.muVariance.with(domain).set(proxies.muVariance)
    }
  }
}
