import Learner
import Stream

/// Keeps the number of domains within `domain.max_domains`: rolling windows (`every 30d`,
/// `month`) make a new domain per region every period, so without a limit memory, snapshots and
/// metric label values would grow for ever.
extension Pipeline {
  /// Retires the least recently seen domains beyond `domain.max_domains`, once their kernel is
  /// published as it is (its last state stays on the kernels topic and in the files) and no
  /// batch of theirs is open; until then the limit is exceeded by the domains waiting.
  ///
  /// A retired domain is dropped from the trainer (kernel, evaluation, proxies), the drift
  /// monitor, the router, the kernel versions and the deactivated set, and every metric series
  /// labelled with it is removed (`iak_drift_active` among them); `iak_domains_retired_total`
  /// counts them. An example for it later starts it anew, warm from the latest earlier period
  /// still held; its kernel versions number on from the last one (`DomainBook.retired`).
  func retireDomainsBeyondLimit() {
    let limit = configuration.settings.domain.maxDomains
    guard trainer.domainCount > limit else { return }
    var retiredLanes: [String: Int32] = [:]
    let retired = trainer.retireDomains(keepingAtMost: limit) { domain in
      guard let published = state.book.publishedSteps[domain],
        !state.book.undelivered.contains(domain),
        trainer.kernel(for: domain)?.stepCount == published
      else {
        return false
      }
      // Asked only until enough may go: the lane of each that goes, before it goes.
      retiredLanes[domain] = trainer.lane(of: domain)
      return true
    }
    guard !retired.isEmpty else { return }
    for domain in retired {
      if let key = DomainKey(parsing: domain) { ingest.forget(key) }
      state.book.retire(domain, lane: retiredLanes[domain])
    }
    forget(retired)
    metrics?.counter(
      "iak_domains_retired_total",
      help: "Least recently seen domains dropped to stay within domain.max_domains."
    ).with().increment(by: Double(retired.count))
    // Debug: a stream of new domains retires a few after almost every batch of records (a
    // fifth of an info log under churn); `iak_domains_retired_total` counts them.
    logger.debug(
      "retired the least recently seen domains beyond domain.max_domains",
      [
        "retired": "\(retired.count)", "limit": "\(limit)", "held": "\(trainer.domainCount)",
        "first": retired[0], "last": retired[retired.count - 1],
      ])
  }

  /// Drops from `book` the retired entries whose period is out of reach: it ended more than
  /// `event.max_past` before the clock of the lane that retired it (before the slowest lane's
  /// clock, when the lane is not known), so the joiner refuses the events of it as too far in
  /// the past (the trainer's lane clock, read here, moves only forward; the joiner's may still
  /// move back while no admitted event bore it out). The book keeps a floor that stands for them
  /// (`DomainBook.retiredFloor`): should one come back all the same (`event.max_past` raised,
  /// a lane handed over), it numbers on above every version dropped. Without `event.max_past`
  /// nothing is dropped, and neither are slots (they recur).
  ///
  /// Without it the book grew by one entry per retired domain for ever: about 105,000 entries
  /// an hour in a soak of monthly domains, each written into every snapshot. A checkpoint
  /// whose snapshot is written sets `iak_domains_retired_held` to the entries its book kept.
  /// Returns the domains dropped.
  func dropUnreachableRetired(from book: inout DomainBook) -> [String] {
    let maxPast = configuration.settings.event.maxPast.wholeMilliseconds
    let clocks = trainer.laneTimeMs
    guard maxPast > 0, !book.retired.isEmpty, let slowest = clocks.values.min() else { return [] }
    let window = configuration.settings.domain.window
    return book.dropRetired { domain, entry in
      let clock = entry.lane.flatMap { clocks[$0] } ?? slowest
      let (cutoff, overflow) = clock.subtractingReportingOverflow(maxPast)
      guard !overflow, let key = DomainKey(parsing: domain),
        let end = window.latestEndMilliseconds(ofPeriodNamed: key.window)
      else { return false }
      // Every event of the period is before `end`; one before `cutoff` is refused.
      return end <= cutoff
    }
  }
}
