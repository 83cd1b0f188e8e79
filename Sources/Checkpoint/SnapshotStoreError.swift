/// Why the snapshot store could not write or load a snapshot.
public struct SnapshotStoreError: Error, Sendable, Equatable, CustomStringConvertible {
  /// The class of problem, for callers that react differently (metrics, fallbacks).
  public enum Kind: String, Sendable {
    /// The file system refused an operation (permission, disk full, I/O error); see `stage`.
    case storage
    /// The snapshot version or one of its files does not exist.
    case missing
    /// A file is truncated, fails its checksum, or does not parse.
    case corrupt
    /// The manifest's format version is unknown to this build.
    case unsupportedFormat
    /// The snapshot was made for another backbone than the one configured.
    case backboneMismatch
    /// Another store or process holds the folder's writer lock.
    case locked
    /// The caller asked for something the store cannot do (for example `keep` below 1).
    case invalidRequest
  }

  /// The class of problem.
  public var kind: Kind
  /// The snapshot version concerned, if any.
  public var version: Int?
  /// The storage stage that failed, for `.storage` errors.
  public var stage: StorageStage?
  /// A sentence saying what was wrong, where, and what to do.
  public var message: String

  /// Creates an error.
  public init(_ kind: Kind, version: Int? = nil, stage: StorageStage? = nil, _ message: String) {
    self.kind = kind
    self.version = version
    self.stage = stage
    self.message = message
  }

  /// Wraps a file-system failure.
  init(_ error: StorageError, version: Int?, context: String) {
    self.init(.storage, version: version, stage: error.stage, "\(context): \(error.message)")
  }

  /// The message.
  public var description: String { message }
}
