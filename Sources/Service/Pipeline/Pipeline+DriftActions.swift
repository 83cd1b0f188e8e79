import Base
import Checkpoint
import Foundation
import Learner
import Observability

/// The drift actions of `drift.on_collapse` and `drift.on_harm`, and what the snapshots record
/// so that a later `rollback` can tell which kernel versions were healthy.
extension Pipeline {
  /// Most alerts one snapshot's manifest records; a storm beyond it is counted, not listed.
  static let alertsPerSnapshot = 1000

  /// Carries out `action` on `domain`'s kernel, in answer to `events`, and logs it.
  ///
  /// - `deactivate` / `reactivate`: the kernel is published with `active=false` / as it is at
  ///   the next checkpoint.
  /// - `reset`: the domain's kernel starts from zero (`Trainer.resetKernel(of:)`); it is
  ///   published as a new kernel version at the next checkpoint.
  /// - `rollback`: the newest retained snapshot whose kernel of `domain` was healthy when it
  ///   was taken (neither `collapse` nor `harm` firing; see `SnapshotView.driftFiringKey`),
  ///   whose kernel version is at most the published one and whose kernel differs from the live
  ///   one, gives the kernel back its state (`Trainer.rollBackKernel(of:toStateIn:)`); it is
  ///   republished under a new kernel version at the next checkpoint. With no such snapshot (no
  ///   store, none retained, none readable) the kernel is reset instead, and the outcome says so.
  ///
  /// After a reset or rollback the drift detectors forget the evidence about the old kernel
  /// (`DriftMonitor.restartKernel(of:)`); whatever fires keeps firing until the new kernel's
  /// own evidence clears it, so a replacement that did not help does not trigger another one.
  func apply(_ action: DriftAction, to domain: String, after events: [DriftEvent])
    -> DriftActionOutcome
  {
    let outcome: DriftActionOutcome
    switch action {
    case .alert:
      return DriftActionOutcome(requested: .alert)
    case .deactivate:
      state.book.deactivated.insert(domain)
      outcome = DriftActionOutcome(
        requested: .deactivate,
        detail: "kernel published with active=false at the next checkpoint; serving falls back "
          + "to the backbone")
    case .reactivate:
      state.book.deactivated.remove(domain)
      outcome = DriftActionOutcome(
        requested: .reactivate, detail: "kernel published active again at the next checkpoint")
    case .reset:
      outcome = resetKernel(of: domain, requested: .reset, because: nil)
    case .rollback:
      outcome = rollBackKernel(of: domain)
    }
    logger.log(
      action == .reactivate ? .info : .warning, "drift action",
      [
        "domain": domain, "requested": outcome.requested.rawValue,
        "action": outcome.taken.rawValue,
        "detectors": events.map { "\($0.detector.rawValue) \($0.transition.rawValue)" }
          .joined(separator: ", "),
        "detail": outcome.detail ?? "",
      ])
    return outcome
  }

  /// What a snapshot records about drift: the detectors firing per domain (which makes each
  /// kernel version's health known to a later rollback), the alerts since the last snapshot,
  /// and the newest event time (where the snapshot sits on the stream, for the report).
  func driftExtras() -> [String: String] {
    var firing: [String: JSONValue] = [:]
    var judgedWorse: [JSONValue] = []
    for domain in trainer.domains {
      firing[domain] = .array(
        drift.firingDetectors(of: domain).map(\.rawValue).sorted().map { .string($0) })
      // A shadowed kernel found worse fires nothing (it harms no one), but a rollback must
      // not take it for a healthy version.
      if drift.monitor(of: domain)?.guardState.lastVerdict == .harm {
        judgedWorse.append(.string(domain))
      }
    }
    let recent = alertLedger.sinceLastSnapshot.map {
      RecordedAlert($0.event, outcome: $0.outcome).json
    }
    var extras = [
      SnapshotView.driftFiringKey: SnapshotView.encodeMap(firing),
      SnapshotView.judgedWorseKey: SnapshotView.encodeList(judgedWorse),
      SnapshotView.eventTimeKey: String(trainer.eventTimeMs),
      SnapshotView.alertsKey: SnapshotView.encodeList(Array(recent.suffix(Self.alertsPerSnapshot))),
    ]
    if recent.count > Self.alertsPerSnapshot {
      let omitted = recent.count - Self.alertsPerSnapshot
      extras["alerts_omitted"] = String(omitted)
      logger.warning(
        "more alerts since the last snapshot than it records; the oldest are only in the log",
        ["alerts": "\(recent.count)", "omitted": "\(omitted)"])
    }
    return extras
  }

  private func resetKernel(of domain: String, requested: DriftAction, because reason: String?)
    -> DriftActionOutcome
  {
    guard trainer.resetKernel(of: domain) else {
      return DriftActionOutcome(
        requested: requested, taken: .alert,
        detail: "domain has no kernel to \(requested.rawValue); nothing changed")
    }
    replaced(domain)
    var detail =
      "kernel started from zero (fresh weights and optimiser state), published as kernel "
      + "version \((state.book.kernelVersions[domain] ?? 0) + 1) at the next checkpoint"
    if let reason { detail = reason + "; " + detail }
    return DriftActionOutcome(requested: requested, taken: .reset, detail: detail)
  }

  private func rollBackKernel(of domain: String) -> DriftActionOutcome {
    guard let live = trainer.kernel(for: domain) else {
      return resetKernel(of: domain, requested: .rollback, because: nil)
    }
    guard let candidate = healthyEarlierKernel(of: domain, live: live) else {
      return resetKernel(
        of: domain, requested: .rollback,
        because: "no healthy earlier kernel version is retained in the snapshot store")
    }
    do {
      try trainer.rollBackKernel(of: domain, toStateIn: candidate.tensors)
    } catch {
      logger.error(
        "could not roll back a kernel; resetting it instead",
        ["domain": domain, "snapshot": "\(candidate.snapshotVersion)", "error": "\(error)"])
      return resetKernel(
        of: domain, requested: .rollback,
        because: "snapshot \(candidate.snapshotVersion)'s kernel could not be restored")
    }
    replaced(domain)
    return DriftActionOutcome(
      requested: .rollback, restoredKernelVersion: candidate.kernelVersion,
      restoredFromSnapshot: candidate.snapshotVersion,
      detail: "kernel version \(candidate.kernelVersion) restored from snapshot "
        + "\(candidate.snapshotVersion), republished as kernel version "
        + "\((state.book.kernelVersions[domain] ?? 0) + 1) at the next checkpoint")
  }

  /// After a reset or rollback: the detectors restart on the new kernel, and the next
  /// checkpoint publishes it whatever its step count.
  private func replaced(_ domain: String) {
    drift.restartKernel(of: domain)
    state.book.replaced(domain)
  }

  private struct Candidate {
    var tensors: [String: Tensor]
    var kernelVersion: Int
    var snapshotVersion: Int
  }

  /// The newest retained, readable snapshot whose kernel of `domain` was recorded healthy, has
  /// a kernel version at most the published one, and differs from `live`. The newest snapshot
  /// holding a kernel version decides whether that version was healthy (it rests on the most
  /// evidence).
  private func healthyEarlierKernel(of domain: String, live: IAKKernel) -> Candidate? {
    guard let store else { return nil }
    let current = state.book.kernelVersions[domain] ?? 0
    let listings: [SnapshotListing]
    do {
      listings = try store.listVersions()
    } catch {
      logger.error("cannot list the snapshot store for a rollback", ["error": "\(error)"])
      return nil
    }
    var decided: Set<Int> = []
    for listing in listings.reversed() {
      guard let manifest = listing.manifest,
        let version = SnapshotView.kernelVersions(in: manifest)[domain], version >= 1,
        version <= current, !decided.contains(version)
      else { continue }
      decided.insert(version)
      guard SnapshotView.isHealthy(domain, in: manifest) == true else { continue }
      let snapshot: Snapshot
      do {
        snapshot = try store.load(version: listing.version, expectingBackbone: backboneSHA256)
      } catch {
        logger.warning(
          "skipping an unreadable snapshot while looking for a healthy kernel",
          ["domain": domain, "snapshot": "\(listing.version)", "error": "\(error)"])
        decided.remove(version)
        continue
      }
      let view = SnapshotView(snapshot)
      guard let kernel = try? view.kernel(of: domain), kernel != live else { continue }
      return Candidate(
        tensors: view.tensors(of: domain), kernelVersion: version,
        snapshotVersion: listing.version)
    }
    return nil
  }
}
