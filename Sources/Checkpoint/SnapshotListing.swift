/// One version folder of the store as listed, with its manifest when it can be read.
public struct SnapshotListing: Sendable, Equatable {
  /// The version (the folder's name).
  public var version: Int
  /// The parsed manifest, or nil if it is missing or invalid (see `problem`).
  public var manifest: SnapshotManifest?
  /// Why the manifest could not be read; file checksums are not verified by listing.
  public var problem: SnapshotStoreError?
  /// Whether `LATEST` names this version.
  public var isLatest: Bool

  /// Creates a listing entry.
  public init(
    version: Int, manifest: SnapshotManifest?, problem: SnapshotStoreError?, isLatest: Bool
  ) {
    self.version = version
    self.manifest = manifest
    self.problem = problem
    self.isLatest = isLatest
  }
}
