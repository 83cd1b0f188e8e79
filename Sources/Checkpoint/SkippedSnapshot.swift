/// A snapshot version that loading passed over, and why; the caller logs it and counts it.
public struct SkippedSnapshot: Sendable, Equatable {
  /// The version that was not used.
  public var version: Int
  /// Why it was refused.
  public var error: SnapshotStoreError

  /// Records that `version` was skipped because of `error`.
  public init(version: Int, error: SnapshotStoreError) {
    self.version = version
    self.error = error
  }
}
