/// What a successful snapshot write did, for the caller to log.
public struct SnapshotWriteReport: Sendable, Equatable {
  /// The manifest of the new snapshot, now durable and named by `LATEST`.
  public var manifest: SnapshotManifest
  /// Older versions removed by retention.
  public var removedVersions: [Int]
  /// Leftovers of interrupted writes removed when this store took the folder's lock.
  public var removedLeftovers: [String]
  /// Removals that failed; the snapshot itself is safe, but these folders still take space.
  public var pruneFailures: [StorageError]

  /// Creates a report.
  public init(
    manifest: SnapshotManifest, removedVersions: [Int], removedLeftovers: [String] = [],
    pruneFailures: [StorageError]
  ) {
    self.manifest = manifest
    self.removedVersions = removedVersions
    self.removedLeftovers = removedLeftovers
    self.pruneFailures = pruneFailures
  }
}
