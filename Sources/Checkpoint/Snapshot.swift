/// One snapshot as loaded from the store: its manifest and its verified tensors.
public struct Snapshot: Sendable, Equatable {
  /// The manifest, whose checksums the payload has been verified against.
  public var manifest: SnapshotManifest
  /// All tensors and metadata the caller stored.
  public var payload: SafeTensors

  /// Pairs a manifest with its payload.
  public init(manifest: SnapshotManifest, payload: SafeTensors) {
    self.manifest = manifest
    self.payload = payload
  }

  /// The snapshot version.
  public var version: Int { manifest.version }
}
