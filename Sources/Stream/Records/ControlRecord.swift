import Base

/// An instruction to the pipeline carried on the input itself, at a position in a partition:
/// `iak-stream upgrade` writes one to every partition of the input topics. Every process that
/// ever owns a partition reads it at the same offset, so a replay of the input applies it at
/// the same place, and the members of a group agree on where it applies.
///
/// Its value is one JSON object whose first member is `"iak-control"` (the action), which no
/// event has; the decoder recognises it by that prefix before decoding an event:
///
///     {"iak-control":"backbone-switch","backbone_sha256":"<hex>","backbone_dir":"<path>",
///      "rebase_from":<offset, optional>,"rollback":<true, optional>}
public struct ControlRecord: Sendable, Equatable {
  /// What the record asks for.
  public enum Action: String, Sendable, CaseIterable {
    /// Move to another backbone (`backbone_sha256`, loaded from `backbone_dir`) once every held
    /// partition has reached its own switch record; the kernels start from zero on it.
    case backboneSwitch = "backbone-switch"
    /// Announces a switch to come, so that a service can re-base the new backbone's kernels in
    /// the background from `rebase_from` on while it goes on with the old one.
    case backbonePrepare = "backbone-prepare"
    /// Withdraws an announced switch: a background re-base for that backbone stops.
    case backboneAbandon = "backbone-abandon"
  }

  /// What it asks for.
  public var action: Action
  /// sha256 of the backbone's `model.safetensors` (64 lowercase hex digits).
  public var backboneSHA256: String
  /// The folder the backbone is loaded from (`model.safetensors` and `config.json`), as every
  /// process of the group sees it.
  public var backboneDirectory: String
  /// The first offset of this record's partition in the re-base window (`rebase_from`): the
  /// kernels on the new backbone are trained on the partition's records from there up to the
  /// switch record before the switch. Nil: they start from zero at the switch.
  public var rebaseFrom: Int64?
  /// Whether the switch goes back to the state a pipeline kept of this backbone when it
  /// switched away from it (`rollback`, written by `iak-stream upgrade --rollback`): that state
  /// is caught up on the partition's records since, instead of kernels from zero or re-based
  /// (which stay the fallback of a partition with no kept state).
  public var isRollback: Bool

  /// Makes a backbone switch (or, with `action` `.backbonePrepare`, its announcement);
  /// `rebaseFrom` and `isRollback` as the properties say.
  public init(
    switchingTo backboneSHA256: String, directory: String, rebaseFrom: Int64? = nil,
    action: Action = .backboneSwitch, isRollback: Bool = false
  ) {
    self.action = action
    self.backboneSHA256 = backboneSHA256
    backboneDirectory = directory
    self.rebaseFrom = rebaseFrom
    self.isRollback = isRollback
  }

  /// The bytes every control record's value starts with.
  public static let prefix: [UInt8] = Array(#"{"iak-control":"#.utf8)

  /// Whether `value` is a control record (its bytes start with `prefix`), well formed or not.
  public static func isControl(_ value: UnsafeRawBufferPointer) -> Bool {
    guard value.count >= prefix.count else { return false }
    for index in prefix.indices where value[index] != prefix[index] { return false }
    return true
  }

  /// `isControl(_:)` of a byte array.
  public static func isControl(_ value: [UInt8]) -> Bool {
    value.withUnsafeBytes { isControl($0) }
  }

  /// Reads a control record's value.
  ///
  /// - Throws: `EventRejection` (`bad_control`) naming the member that is missing or wrong.
  public init(parsing value: [UInt8]) throws(EventRejection) {
    guard let text = String(validating: value, as: UTF8.self) else {
      throw EventRejection(.invalidUTF8, offset: 0)
    }
    guard let object = JSONValue(parsing: text), object.members != nil else {
      throw EventRejection(.badControl, field: "iak-control", offset: 0)
    }
    func string(_ name: String) throws(EventRejection) -> String {
      guard let value = object[name]?.stringValue, !value.isEmpty else {
        throw EventRejection(.badControl, field: name, offset: 0)
      }
      return value
    }
    guard let action = Action(rawValue: try string("iak-control")) else {
      throw EventRejection(.badControl, field: "iak-control", offset: 0)
    }
    let sha = try string("backbone_sha256")
    guard sha.utf8.count == 64,
      sha.utf8.allSatisfy({ (48...57).contains($0) || (97...102).contains($0) })
    else { throw EventRejection(.badControl, field: "backbone_sha256", offset: 0) }
    self.action = action
    backboneSHA256 = sha
    backboneDirectory = try string("backbone_dir")
    if let from = object["rebase_from"] {
      guard let offset = from.int64Value, offset >= 0 else {
        throw EventRejection(.badControl, field: "rebase_from", offset: 0)
      }
      rebaseFrom = offset
    }
    isRollback = false
    if let rollback = object["rollback"] {
      guard let flag = rollback.boolValue else {
        throw EventRejection(.badControl, field: "rollback", offset: 0)
      }
      isRollback = flag
    }
  }

  /// The record's value as one line of JSON (what `init(parsing:)` reads).
  public var jsonLine: String {
    var members: [(key: String, value: JSONValue)] = [
      ("iak-control", .string(action.rawValue)), ("backbone_sha256", .string(backboneSHA256)),
      ("backbone_dir", .string(backboneDirectory)),
    ]
    if let rebaseFrom { members.append(("rebase_from", .number(String(rebaseFrom)))) }
    if isRollback { members.append(("rollback", .bool(true))) }
    return JSONValue.object(members).text
  }
}
