import Checkpoint
import Learner

extension SnapshotView {
  /// Whether `domain`'s kernel served when the snapshot was taken, by the rule of
  /// `Pipeline.isServing(_:)`: it is active (`domain.min_examples`), no drift action had
  /// deactivated it, and its serving guard had seen it do no harm at serving time. This is the
  /// `active` flag the service published for it.
  ///
  /// - Throws: `LearnerError.invalidModel` when the domain's kernel tensors are malformed.
  public func isServing(_ domain: String) throws -> Bool {
    guard try kernel(of: domain).isActive else { return false }
    if Self.deactivatedDomains(in: snapshot.manifest).contains(domain) { return false }
    return Self.guardServes(domain, in: snapshot.payload.tensors)
  }

  /// Whether the serving guard of `domain` recorded in `tensors` serves (false when it has no
  /// recorded state: a kernel starts in shadow).
  static func guardServes(_ domain: String, in tensors: [String: Tensor]) -> Bool {
    let name = domain + "/" + DomainDriftMonitor.StateTensor.guardCounters
    guard let counters = try? tensors[name]?.int64s(), counters.count > 1 else { return false }
    return counters[1] == 1
  }
}
