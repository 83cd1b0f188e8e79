/// Everything the trainer keeps per domain.
struct DomainState {
  var kernel: IAKKernel
  var bias = OutputBias()
  var pending: [Example]
  var evaluation: DomainEvaluation
  var proxies: InformationProxies

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
    }
    evaluation.batches += 1
  }
}
