import Base
import Checkpoint
import Foundation

/// The index `kernels export` writes next to the serving files (`kernels.json`), so that a
/// serving system can load a kernel set as a whole: which file holds which domain, under which
/// kernel version, whether it serves, and on which backbone it was trained.
///
/// ```json
/// {"format": "iak-kernel-index/1", "snapshot_version": 12, "created_at_ms": 1700000000000,
///  "backbone_sha256": "9f...", "insert_at": "hidden1", "bottleneck": 8, "encoder_hidden": 0,
///  "kernels": [{"domain": "1998-03/9", "file": "1998-03/9.safetensors", "kernel_version": 4,
///               "active": true, "backbone_sha256": "9f...", "examples_seen": 1234}]}
/// ```
public struct KernelIndex: Sendable, Equatable {
  /// One domain's kernel.
  public struct Entry: Sendable, Equatable {
    /// The domain (`<window>/<region>`).
    public var domain: String
    /// The serving file, relative to the index's folder.
    public var file: String
    /// The domain's kernel version: it names one set of weights.
    public var kernelVersion: Int
    /// Whether serving should apply it (false: score the domain with the backbone alone).
    public var isActive: Bool
    /// sha256 of the backbone's model.safetensors the kernel was trained on.
    public var backboneSHA256: String
    /// Examples the kernel was trained on.
    public var examplesSeen: Int

    /// Creates an entry.
    public init(
      domain: String, file: String, kernelVersion: Int, isActive: Bool, backboneSHA256: String,
      examplesSeen: Int
    ) {
      self.domain = domain
      self.file = file
      self.kernelVersion = kernelVersion
      self.isActive = isActive
      self.backboneSHA256 = backboneSHA256
      self.examplesSeen = examplesSeen
    }
  }

  /// The file name of the index.
  public static let fileName = "kernels.json"
  /// The value of its `format` field.
  public static let format = "iak-kernel-index/1"

  /// The snapshot the kernels come from.
  public var snapshotVersion: Int
  /// When that snapshot was taken, in milliseconds since the Unix epoch.
  public var createdAtMilliseconds: Int64
  /// sha256 of the backbone every kernel of the set was trained on.
  public var backboneSHA256: String
  /// Where the kernels are inserted (`iak.insert_at`).
  public var insertAt: String
  /// The bottleneck width k (`iak.bottleneck`).
  public var bottleneck: Int
  /// The encoder's hidden width, 0 for none (`iak.encoder_hidden`).
  public var encoderHidden: Int
  /// The kernels, sorted by domain.
  public var entries: [Entry]

  /// Creates an index.
  public init(
    snapshotVersion: Int, createdAtMilliseconds: Int64, backboneSHA256: String, insertAt: String,
    bottleneck: Int, encoderHidden: Int, entries: [Entry]
  ) {
    self.snapshotVersion = snapshotVersion
    self.createdAtMilliseconds = createdAtMilliseconds
    self.backboneSHA256 = backboneSHA256
    self.insertAt = insertAt
    self.bottleneck = bottleneck
    self.encoderHidden = encoderHidden
    self.entries = entries.sorted { $0.domain < $1.domain }
  }

  /// The JSON text of the index (keys sorted, so the same index gives the same bytes).
  public func encoded() -> [UInt8] {
    func number(_ value: some BinaryInteger) -> JSONValue { .number(String(value)) }
    let kernels: [JSONValue] = entries.map {
      .object([
        ("active", .bool($0.isActive)), ("backbone_sha256", .string($0.backboneSHA256)),
        ("domain", .string($0.domain)), ("examples_seen", number($0.examplesSeen)),
        ("file", .string($0.file)), ("kernel_version", number($0.kernelVersion)),
      ])
    }
    let object = JSONValue.object([
      ("backbone_sha256", .string(backboneSHA256)), ("bottleneck", number(bottleneck)),
      ("created_at_ms", number(createdAtMilliseconds)), ("encoder_hidden", number(encoderHidden)),
      ("format", .string(Self.format)), ("insert_at", .string(insertAt)),
      ("kernels", .array(kernels)), ("snapshot_version", number(snapshotVersion)),
    ])
    return Array((object.prettyText + "\n").utf8)
  }

  /// Reads the index of `folder` (`<folder>/kernels.json`).
  ///
  /// - Throws: `UsageError` naming the file and what is wrong with it.
  public static func read(from folder: String) throws -> KernelIndex {
    let path = folder + "/" + fileName
    guard let data = FileManager.default.contents(atPath: path) else {
      throw UsageError("cannot read \(path)")
    }
    guard let object = try? JSONValue.parse(Array(data)), object.members != nil else {
      throw UsageError("\(path) is not a JSON object")
    }
    guard object["format"]?.stringValue == format else {
      throw UsageError(
        "\(path): format \(object["format"].map(Self.shown) ?? "missing"), expected '\(format)'")
    }
    /// The value of `name` read by `read`, or the error naming `kind`, the type wanted.
    func field<T>(_ value: JSONValue?, _ name: String, _ kind: String, _ read: (JSONValue) -> T?)
      throws -> T
    {
      guard let typed = value.flatMap(read) else {
        throw UsageError("\(path): '\(name)' is missing or not a \(kind)")
      }
      return typed
    }
    func string(_ value: JSONValue?, _ name: String) throws -> String {
      try field(value, name, "String") { $0.stringValue }
    }
    func int(_ value: JSONValue?, _ name: String) throws -> Int {
      try field(value, name, "Int") { $0.intValue }
    }
    let kernels = try field(object["kernels"], "kernels", "Array<Dictionary<String, Any>>") {
      value in
      value.arrayValue.flatMap { $0.allSatisfy { $0.members != nil } ? $0 : nil }
    }
    let entries = try kernels.enumerated().map { index, entry in
      let file = try string(entry["file"], "kernels[\(index)].file")
      if file.hasPrefix("/") || file.split(separator: "/").contains("..") {
        throw UsageError("\(path): kernels[\(index)].file '\(file)' leaves the index's folder")
      }
      return Entry(
        domain: try string(entry["domain"], "kernels[\(index)].domain"), file: file,
        kernelVersion: try int(entry["kernel_version"], "kernels[\(index)].kernel_version"),
        isActive: try field(entry["active"], "kernels[\(index)].active", "Bool") { $0.boolValue },
        backboneSHA256: try string(entry["backbone_sha256"], "kernels[\(index)].backbone_sha256"),
        examplesSeen: try int(entry["examples_seen"], "kernels[\(index)].examples_seen"))
    }
    return KernelIndex(
      snapshotVersion: try int(object["snapshot_version"], "snapshot_version"),
      createdAtMilliseconds: Int64(try int(object["created_at_ms"], "created_at_ms")),
      backboneSHA256: try string(object["backbone_sha256"], "backbone_sha256"),
      insertAt: try string(object["insert_at"], "insert_at"),
      bottleneck: try int(object["bottleneck"], "bottleneck"),
      encoderHidden: try int(object["encoder_hidden"], "encoder_hidden"),
      entries: entries)
  }

  /// A value as a message shows it: a string's own text, anything else as JSON.
  private static func shown(_ value: JSONValue) -> String {
    value.stringValue ?? value.text
  }
}
