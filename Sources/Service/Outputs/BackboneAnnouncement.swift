import Base
import Stream

/// The record that announces a backbone switch on the kernels topic (key `.backbone`,
/// `iak-backbone/1`): from each listed input partition's switch record on, the kernels under
/// plain domain keys are trained on `backboneSHA256` (docs/FORMAT.md, "During a backbone
/// upgrade").
public struct BackboneAnnouncement: Sendable, Equatable {
  /// The format name it carries.
  public static let format = "iak-backbone/1"

  /// The backbone switched to.
  public var backboneSHA256: String
  /// The folder it was loaded from.
  public var backboneDirectory: String
  /// The backbone switched from.
  public var previousBackboneSHA256: String
  /// Each input partition this process switched, and the offset of its switch record.
  public var switchedAt: [TopicPartition: Int64]
  /// The snapshot that first recorded the switch.
  public var snapshotVersion: Int
  /// When that checkpoint ran, in milliseconds since the epoch.
  public var createdAtMilliseconds: Int64

  /// Creates an announcement.
  public init(
    backboneSHA256: String, backboneDirectory: String, previousBackboneSHA256: String,
    switchedAt: [TopicPartition: Int64], snapshotVersion: Int, createdAtMilliseconds: Int64
  ) {
    self.backboneSHA256 = backboneSHA256
    self.backboneDirectory = backboneDirectory
    self.previousBackboneSHA256 = previousBackboneSHA256
    self.switchedAt = switchedAt
    self.snapshotVersion = snapshotVersion
    self.createdAtMilliseconds = createdAtMilliseconds
  }

  /// The record's value: one line of JSON, partitions in order.
  public var jsonLine: String {
    JSONValue.object([
      ("format", .string(Self.format)),
      ("backbone_sha256", .string(backboneSHA256)),
      ("backbone_dir", .string(backboneDirectory)),
      ("previous_backbone_sha256", .string(previousBackboneSHA256)),
      (
        "switched_at",
        .object(
          switchedAt.keys.sorted().map { ($0.description, .number(String(switchedAt[$0]!))) })
      ),
      ("snapshot_version", .number(String(snapshotVersion))),
      ("created_at_ms", .number(String(createdAtMilliseconds))),
    ]).text
  }

  /// Reads a value written by `jsonLine`; nil when it is not one.
  public init?(parsing value: [UInt8]) {
    guard let text = String(validating: value, as: UTF8.self),
      let object = JSONValue(parsing: text),
      object["format"]?.stringValue == Self.format,
      let sha = object["backbone_sha256"]?.stringValue,
      let directory = object["backbone_dir"]?.stringValue,
      let previous = object["previous_backbone_sha256"]?.stringValue,
      let partitions = object["switched_at"]?.members,
      let snapshot = object["snapshot_version"]?.int64Value,
      let created = object["created_at_ms"]?.int64Value
    else { return nil }
    var switchedAt: [TopicPartition: Int64] = [:]
    for (name, offset) in partitions {
      guard let partition = TopicPartition(parsing: name), let offset = offset.int64Value else {
        return nil
      }
      switchedAt[partition] = offset
    }
    self.init(
      backboneSHA256: sha, backboneDirectory: directory, previousBackboneSHA256: previous,
      switchedAt: switchedAt, snapshotVersion: Int(snapshot), createdAtMilliseconds: created)
  }
}
