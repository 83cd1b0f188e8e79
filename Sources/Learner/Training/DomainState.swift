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
  /// The rows of `pending` that train (`ExampleUse.trains`); a batch closes full at
  /// `train.batch_max` of them. The others are serving-time records of a delayed-feedback mode,
  /// waiting to be counted when the batch closes.
  var trainingRows: Int { pending.count { $0.use.trains } }
  /// The clicks the domain trained on and how many came after the observation window
  /// (`DelayedFeedback`).
  var clickDelays = ClickDelays()

  init(kernel: IAKKernel, batchMax: Int, windowSize: Int, proxies: InformationProxies) {
    self.kernel = kernel
    self.pending = []
    self.pending.reserveCapacity(batchMax)
    self.evaluation = DomainEvaluation(windowSize: windowSize)
    self.proxies = proxies
  }

  /// Counts `report` in the evaluation: its trained rows in the training-time meters, its
  /// serving-time records in the serving meters.
  mutating func record(_ report: BatchReport) {
    for row in 0..<report.size {
      evaluation.adapted.record(logit: report.adaptedLogits[row], label: report.labels[row])
      evaluation.backbone.record(logit: report.backboneLogits[row], label: report.labels[row])
    }
    for (score, label) in zip(report.servingScores, report.servingLabels) {
      evaluation.recordServing(score, label: label)
    }
    if report.size > 0 { evaluation.batches += 1 }
  }
}
