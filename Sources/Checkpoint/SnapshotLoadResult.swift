/// The outcome of loading the newest valid snapshot: the snapshot, if any, and every newer
/// version that was refused on the way, newest first.
public struct SnapshotLoadResult: Sendable, Equatable {
  /// The newest snapshot that passed every check, or nil if none did (or the store is empty).
  public var snapshot: Snapshot?
  /// The versions refused before `snapshot` was found, newest first, each with its reason.
  public var skipped: [SkippedSnapshot]
  /// A problem with the `LATEST` pointer (missing, unreadable), after which every version
  /// folder was considered; nil when `LATEST` was sound or the store is empty.
  public var latestProblem: String?

  /// Creates a result.
  public init(snapshot: Snapshot?, skipped: [SkippedSnapshot], latestProblem: String? = nil) {
    self.snapshot = snapshot
    self.skipped = skipped
    self.latestProblem = latestProblem
  }
}
