/// Everything the trainer keeps per domain.
struct DomainState {
  var kernel: IAKKernel
  var bias = OutputBias()
  var pending: [Example]
  /// The trainer's event time when the open batch received its first example (`.min` while no
  /// batch is open); the batch closes by waiting `train.batch_max_wait` from here.
  var batchOpenedMs: Int64 = .min
  /// The newest event time of the domain's examples (`.min` before the first).
  var lastSeenMs: Int64 = .min
  var evaluation: DomainEvaluation
  var proxies: InformationProxies
  /// The lane (input partition) of the domain's first example: the partition that owns the
  /// domain when state is handed over between processes (nil for state restored from a
  /// snapshot written before lanes were recorded).
  var lane: Int32?

  init(kernel: IAKKernel, batchMax: Int, windowSize: Int, proxies: InformationProxies) {
    self.kernel = kernel
    self.pending = []
    self.pending.reserveCapacity(batchMax)
    self.evaluation = DomainEvaluation(windowSize: windowSize)
    self.proxies = proxies
  }

  mutating func record(_ report: BatchReport) {
    for row in 0..<report.size {
      evaluation.adapted.record(logit: report.adaptedLogits[row], label: report.labels[row])
      evaluation.backbone.record(logit: report.backboneLogits[row], label: report.labels[row])
      evaluation.recordServing(report.servingScores[row], label: report.labels[row])
    }
    evaluation.batches += 1
  }
}
