import Checkpoint
import Observability

extension SnapshotStore {
  /// The newest snapshot that passes every check, logging each newer one that was skipped and
  /// why (a damaged newest snapshot is never silent).
  ///
  /// - Throws: `SnapshotStoreError` when the store cannot be read, `ServiceError`
  ///   (`stateUnreadable`) when no snapshot is valid.
  func newestValidSnapshot(expectingBackbone backboneSHA256: String?, logger: Logger) throws
    -> Snapshot
  {
    let result = try loadNewestValid(
      expectingBackbone: backboneSHA256, accepting: Pipeline.payloadProblem)
    if let problem = result.latestProblem {
      logger.warning("LATEST is not what it should be", ["problem": problem])
    }
    for skipped in result.skipped {
      logger.warning(
        "skipped a snapshot that failed its checks",
        ["version": "\(skipped.version)", "reason": "\(skipped.error)"])
    }
    guard let snapshot = result.snapshot else {
      throw ServiceError(
        .stateUnreadable,
        "no valid snapshot in \(directory)"
          + (backboneSHA256 == nil ? "" : " for this backbone"))
    }
    return snapshot
  }
}
