import Base
import Foundation

/// What a snapshot folder holds and how to check it: written as `manifest.json` next to the
/// snapshot's files.
public struct SnapshotManifest: Sendable, Equatable {
  /// The manifest format this code writes and the only one it reads.
  public static let currentFormatVersion = 1
  /// The name of the manifest file in a snapshot folder.
  public static let fileName = "manifest.json"
  /// The name of the file holding the manifest's own sha256, one `sha256sum` line
  /// (`<hex>  manifest.json`), so that `sha256sum -c manifest.sha256` checks it too. Snapshots
  /// written before it existed have none and still load.
  public static let checksumFileName = "manifest.sha256"

  /// The checksum file's content for manifest bytes `bytes`.
  public static func checksumLine(of bytes: [UInt8]) -> [UInt8] {
    Array("\(SHA256.hexDigest(of: bytes))  \(fileName)\n".utf8)
  }

  /// The sha256 a checksum file names for `manifest.json`, or nil when it is not one line in
  /// that form.
  public static func checksum(inLine bytes: [UInt8]) -> String? {
    let text = String(decoding: bytes, as: UTF8.self)
    let line = text.hasSuffix("\n") ? String(text.dropLast()) : text
    let parts = line.split(separator: " ", omittingEmptySubsequences: true)
    guard parts.count == 2, parts[1] == fileName || parts[1] == "*" + fileName,
      parts[0].utf8.count == 64,
      parts[0].utf8.allSatisfy({ (0x30...0x39).contains($0) || (0x61...0x66).contains($0) })
    else { return nil }
    return String(parts[0])
  }

  /// The size and sha256 of one file of the snapshot.
  public struct File: Sendable, Equatable {
    /// Lowercase hexadecimal sha256 of the file's bytes.
    public var sha256: String
    /// The file's length in bytes.
    public var byteCount: Int

    /// Describes a file by its digest and length.
    public init(sha256: String, byteCount: Int) {
      self.sha256 = sha256
      self.byteCount = byteCount
    }

    /// Describes `bytes`.
    public init(describing bytes: [UInt8]) {
      self.init(describing: [bytes])
    }

    /// Describes the file made of `segments` back to back.
    public init(describing segments: [[UInt8]]) {
      var hasher = SHA256()
      for segment in segments { hasher.update(segment) }
      self.init(
        sha256: SHA256.hex(hasher.finalize()), byteCount: segments.reduce(0) { $0 + $1.count })
    }
  }

  /// The manifest format version (`currentFormatVersion` when written by this code).
  public var formatVersion: Int
  /// The snapshot version, equal to the name of its folder.
  public var version: Int
  /// When the snapshot was written, in whole milliseconds since 1970-01-01 UTC.
  public var createdAtMilliseconds: Int64
  /// The sha256 of the backbone the snapshot's state was trained against.
  public var backboneSHA256: String
  /// A digest of the configuration the snapshot was written under.
  public var configurationDigest: String
  /// The next offset to read from each partition to continue exactly after this snapshot.
  public var offsets: [TopicPartition: Int64]
  /// Every file of the snapshot folder except the manifest, by name.
  public var files: [String: File]
  /// Free-form strings the caller chose to record.
  public var extras: [String: String]

  /// Creates a manifest.
  public init(
    formatVersion: Int = SnapshotManifest.currentFormatVersion, version: Int,
    createdAtMilliseconds: Int64, backboneSHA256: String, configurationDigest: String,
    offsets: [TopicPartition: Int64], files: [String: File], extras: [String: String] = [:]
  ) {
    self.formatVersion = formatVersion
    self.version = version
    self.createdAtMilliseconds = createdAtMilliseconds
    self.backboneSHA256 = backboneSHA256
    self.configurationDigest = configurationDigest
    self.offsets = offsets
    self.files = files
    self.extras = extras
  }

  /// The creation time as a `Date`.
  public var createdAt: Date {
    Date(timeIntervalSince1970: Double(createdAtMilliseconds) / 1000)
  }
}
