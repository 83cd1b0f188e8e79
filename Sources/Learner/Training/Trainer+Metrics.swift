import Observability

extension Trainer {
  /// Writes the evaluation and proxies of `domains` (default: every domain) into `metrics`;
  /// `isServing` says whether a domain's kernel serves (the pipeline's decision; by default,
  /// whether it is active) and `kernelVersion` its newest version (nil: no version series).
  ///
  /// Only the `metrics.maxDomains` most recently seen domains have their own `domain` label
  /// (a domain that falls out loses its series); the others are aggregated under
  /// `LearnerMetrics.otherDomain`, recomputed when one of them is in `domains` or the set
  /// changed (see `LearnerMetrics`). A domain that enters the labelled set is written whether or
  /// not it is in `domains`.
  ///
  /// AUCs are computed here (a sort of the window per domain), so call it at the metrics
  /// interval, not per batch.
  public func publish(
    to metrics: LearnerMetrics, isServing: ((String) -> Bool)? = nil,
    kernelVersion: ((String) -> Int?)? = nil, domains: [String]? = nil
  ) {
    let ranked = states.map { (lastSeenMs: $0.value.lastSeenMs, domain: $0.key) }
      .sorted { ($1.lastSeenMs, $0.domain) < ($0.lastSeenMs, $1.domain) }.map(\.domain)
    let labelled = Set(ranked.prefix(metrics.maxDomains))
    let others = Set(ranked.dropFirst(metrics.maxDomains))
    let before = metrics.labelled.withLock { state in
      defer {
        state.domains = labelled
        state.others = others
      }
      return state
    }
    for domain in before.domains.subtracting(labelled) { metrics.removeSeries(of: domain) }
    let requested = domains.map(Set.init) ?? Set(ranked)
    let serving = { (domain: String) in
      isServing?(domain) ?? (self.kernel(for: domain)?.isActive ?? false)
    }
    for domain in labelled.sorted()
    where requested.contains(domain) || !before.domains.contains(domain) {
      publish(domain, to: metrics, isServing: serving(domain), version: kernelVersion?(domain))
    }
    if others.isEmpty {
      metrics.removeSeries(of: LearnerMetrics.otherDomain)
      metrics.labelled.withLock { $0.otherCounted = [:] }
    } else if others != before.others || !requested.isDisjoint(with: others) {
      publishAggregate(
        of: others.sorted(), to: metrics, isServing: serving, isNew: before.others.isEmpty)
    }
    metrics.otherDomains.with().set(Double(others.count))
    metrics.frozenRowBytes.with().set(Double(frozenRowBytes))
  }

  /// The models of the quality series and the meter of each in `evaluation`.
  private static func meters(of evaluation: DomainEvaluation) -> [(String, PrequentialMeter)] {
    [
      ("kernel", evaluation.servingKernel), ("backbone", evaluation.servingBackbone),
      ("served", evaluation.served), ("training_kernel", evaluation.adapted),
      ("training_backbone", evaluation.backbone),
    ]
  }

  /// Writes one labelled domain's series.
  private func publish(
    _ domain: String, to metrics: LearnerMetrics, isServing: Bool, version: Int?
  ) {
    guard let evaluation = evaluation(for: domain), let kernel = kernel(for: domain) else {
      return
    }
    // A counter never goes down (a restored or adopted domain with fewer examples keeps its
    // value until it has trained past it).
    let examples = metrics.examples.with(domain)
    examples.increment(by: max(0, Double(evaluation.adapted.count) - examples.value))
    let batches = metrics.batches.with(domain)
    batches.increment(by: max(0, Double(evaluation.batches) - batches.value))
    for (model, meter) in Self.meters(of: evaluation) where meter.count > 0 {
      if let auc = meter.windowAUC { metrics.windowAUC.with(domain, model).set(auc) }
      if let auc = meter.cumulativeAUC { metrics.cumulativeAUC.with(domain, model).set(auc) }
      if let loss = meter.windowLogLoss { metrics.windowLogLoss.with(domain, model).set(loss) }
    }
    metrics.active.with(domain).set(isServing ? 1 : 0)
    metrics.kernelExamples.with(domain).set(Double(kernel.examplesSeen))
    if let version { metrics.version.with(domain).set(Double(version)) }
    if let delays = states[domain]?.clickDelays {
      for share in ["0.5", "0.9", "0.99"] {
        if let bound = delays.delayQuantile(Double(share)!) {
          metrics.clickDelay.with(domain, share).set(bound)
        }
      }
      if let rate = delays.fakeNegativeRate { metrics.fakeNegativeRate.with(domain).set(rate) }
    }
    guard config.mode == .kernel, let proxies = proxies(for: domain), proxies.batches > 0 else {
      return
    }
    metrics.kl.with(domain).set(proxies.meanKL)
    metrics.activeUnits.with(domain).set(Double(proxies.activeUnits))
    let natsPerBit = 0.693_147_180_559_945_3  // ln 2
    metrics.relevance.with(domain, "training_kernel").set(proxies.kernelRelevanceBits * natsPerBit)
    metrics.relevance.with(domain, "training_backbone").set(
      proxies.backboneRelevanceBits * natsPerBit)
    metrics.decoderNormRatio.with(domain).set(proxies.relativeDecoderNorm)
    metrics.muVariance.with(domain).set(proxies.muVariance)
  }

  /// Writes the `_other` series: the sums of `domains`' counts and the quality of their pooled
  /// scores (window AUC and log loss from their windows, cumulative AUC from their histograms).
  private func publishAggregate(
    of domains: [String], to metrics: LearnerMetrics, isServing: (String) -> Bool, isNew: Bool
  ) {
    let other = LearnerMetrics.otherDomain
    let trainedExamples = metrics.examples.with(other).value
    let trainedBatches = metrics.batches.with(other).value
    metrics.removeSeries(of: other)
    // What the members trained since `_other` last counted them. A new `_other` series starts
    // at its members' totals; a member joining an existing one adds nothing of its past (its
    // own series counted that, or a jump would read as a burst of training), and one that
    // leaves is simply forgotten: the counters never go down.
    var examples = 0
    var batches = 0
    var counted: [String: (examples: Int, batches: Int)] = [:]
    let previously = metrics.labelled.withLock { $0.otherCounted }
    var kernelExamples = 0
    var serving = 0
    var windows: [String: PooledScores] = [:]
    var cumulative: [String: PooledScores] = [:]
    for domain in domains {
      guard let evaluation = evaluation(for: domain), let kernel = kernel(for: domain) else {
        continue
      }
      let now = (examples: evaluation.adapted.count, batches: evaluation.batches)
      let last = previously[domain] ?? (isNew ? (examples: 0, batches: 0) : now)
      examples += max(0, now.examples - last.examples)
      batches += max(0, now.batches - last.batches)
      counted[domain] = now
      kernelExamples += kernel.examplesSeen
      if isServing(domain) { serving += 1 }
      for (model, meter) in Self.meters(of: evaluation) where meter.count > 0 {
        windows[model, default: PooledScores()].addWindow(of: meter)
        cumulative[model, default: PooledScores()].addCumulative(of: meter)
      }
    }
    metrics.labelled.withLock { $0.otherCounted = counted }
    metrics.examples.with(other).set(trainedExamples + Double(examples))
    metrics.batches.with(other).set(trainedBatches + Double(batches))
    metrics.kernelExamples.with(other).set(Double(kernelExamples))
    metrics.active.with(other).set(Double(serving))
    for (model, pooled) in windows {
      if let auc = pooled.auc { metrics.windowAUC.with(other, model).set(auc) }
      if let loss = pooled.logLoss { metrics.windowLogLoss.with(other, model).set(loss) }
    }
    for (model, pooled) in cumulative {
      if let auc = pooled.auc { metrics.cumulativeAUC.with(other, model).set(auc) }
    }
  }
}
