import Learner

/// What the pipeline reports about each domain (snapshot extras `domain_stats`, `kernels list`,
/// the replay summary).
extension Pipeline {
  /// Per-domain figures: examples, positives, the serving-time AUC and log loss of the kernel
  /// (shadow), the backbone and what was served (`auc`, `backbone_auc`, `served_auc`, ...), the
  /// training-time diagnostic (`training_*`), the serving guard's last comparison and the
  /// information proxies.
  /// Counts are whole numbers held as `Double`.
  public func domainStatistics() -> [String: [String: Double]] {
    var result: [String: [String: Double]] = [:]
    for domain in trainer.domains {
      guard let evaluation = trainer.evaluation(for: domain) else { continue }
      var row: [String: Double] = [
        "examples": Double(evaluation.adapted.count),
        "positives": Double(evaluation.adapted.positives),
        "serving_examples": Double(evaluation.servingKernel.count),
        "served_by_kernel": Double(evaluation.servedByKernel),
        "serving": isServing(domain) ? 1 : 0,
        // Every example the kernel trained on, those of domains it was warm-started from too.
        "kernel_examples": Double(trainer.kernel(for: domain)?.examplesSeen ?? 0),
      ]
      // Headline figures: at serving time (scored when the impression arrived).
      row["auc"] = evaluation.servingKernel.cumulativeAUC
      row["backbone_auc"] = evaluation.servingBackbone.cumulativeAUC
      row["served_auc"] = evaluation.served.cumulativeAUC
      row["logloss"] = evaluation.servingKernel.logLoss
      row["backbone_logloss"] = evaluation.servingBackbone.logLoss
      row["served_logloss"] = evaluation.served.logLoss
      // Diagnostic: scored when the batch closed, after label.wait (leaks session labels).
      row["training_auc"] = evaluation.adapted.cumulativeAUC
      row["training_backbone_auc"] = evaluation.backbone.cumulativeAUC
      row["training_logloss"] = evaluation.adapted.logLoss
      row["training_backbone_logloss"] = evaluation.backbone.logLoss
      // H(Y) - CE at serving time, over the drift monitor's newest drift.harm_window examples.
      if let window = drift.monitor(of: domain)?.relevanceWindow, window.count > 0 {
        row["relevance_bits"] = window.kernelRelevanceBits
        row["backbone_relevance_bits"] = window.backboneRelevanceBits
      }
      if let comparison = drift.monitor(of: domain)?.guardState.lastComparison {
        row["guard_auc_difference"] = comparison.aucDifference
        row["guard_auc_standard_error"] = comparison.aucStandardError
        row["guard_logloss_gain"] = comparison.logLossGain
        row["guard_logloss_standard_error"] = comparison.logLossStandardError
      }
      if let proxies = trainer.proxies(for: domain) {
        row["active_units"] = Double(proxies.activeUnits)
        row["mean_kl_nats"] = proxies.meanKL
        // Diagnostic: H(Y) - CE of the batches as the trainer scored them (after the wait).
        row["training_relevance_bits"] = proxies.kernelRelevanceBits
        row["training_backbone_relevance_bits"] = proxies.backboneRelevanceBits
        row["relative_decoder_norm"] = proxies.relativeDecoderNorm
      }
      row["kernel_version"] = Double(state.book.kernelVersions[domain] ?? 0)
      result[domain] = row
    }
    return result
  }
}
