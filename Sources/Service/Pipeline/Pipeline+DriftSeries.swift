import Learner
import Observability

/// `iak_drift_active` follows the drift monitor of the domains that are alive: a domain that
/// had no example for `metrics.silent_after` of its partition's event time (a past month, a
/// region gone quiet) loses its series, so its alerts resolve instead of firing for ever; a
/// retired domain loses them with all its series (`retireDomainsBeyondLimit`).
extension Pipeline {
  /// At each checkpoint: removes the drift series of the domains silent for
  /// `metrics.silent_after` and sets 1 for every detector firing in the others (so a silent
  /// domain that comes back, or state restored from a snapshot, shows its firing detectors).
  func refreshDriftSeries() {
    guard let metrics else { return }
    let family = AlertEmitter.activeFamily(in: metrics)
    let silence = configuration.settings.metrics.silentAfter.wholeMilliseconds
    var fallenSilent: [String] = []
    for domain in trainer.domains {
      guard let lastSeen = trainer.lastSeenMs(of: domain) else { continue }
      let clock = trainer.lane(of: domain).flatMap { trainer.laneTimeMs[$0] } ?? trainer.eventTimeMs
      let (quiet, overflow) = clock.subtractingReportingOverflow(lastSeen)
      if !overflow && quiet > silence {
        if silentDomains.insert(domain).inserted { fallenSilent.append(domain) }
        family.removeSeries { $0[0] == domain }
        continue
      }
      silentDomains.remove(domain)
      for detector in drift.firingDetectors(of: domain) {
        family.with(domain, detector.rawValue).set(1)
      }
    }
    silentDomains.formIntersection(trainer.domains)
    guard !fallenSilent.isEmpty else { return }
    logger.info(
      "drift series removed for domains without an example for metrics.silent_after",
      [
        "domains": "\(fallenSilent.count)", "first": fallenSilent[0],
        "silent_after": configuration.string("metrics.silent_after"),
      ])
  }
}
