import Base

/// The manifest's JSON form: fixed key order, one member per line, so equal manifests give
/// identical bytes and a person can read them.
///
/// ```json
/// {
///   "format_version": 1,
///   "snapshot_version": 7,
///   "created_at_ms": 1795000000000,
///   "backbone_sha256": "…",
///   "configuration_digest": "…",
///   "offsets": {"events": {"0": 1234, "1": 99}},
///   "files": {"kernels.safetensors": {"sha256": "…", "bytes": 4096}},
///   "extras": {"host": "a"}
/// }
/// ```
extension SnapshotManifest {
  /// The manifest as JSON text (UTF-8), ending with a newline.
  public func encoded() -> [UInt8] {
    let sortedKeys: ([String]) -> [String] = { SafeTensors.sortedByUTF8($0) }
    var topics: [String: [(key: String, value: JSONValue)]] = [:]
    for (key, offset) in offsets.sorted(by: { $0.key < $1.key }) {
      topics[key.topic, default: []].append((String(key.partition), .number(String(offset))))
    }
    let offsetsJSON = JSONValue.object(
      sortedKeys(Array(topics.keys)).map { ($0, JSONValue.object(topics[$0]!)) })
    let filesJSON = JSONValue.object(
      sortedKeys(Array(files.keys)).map { name in
        let file = files[name]!
        return (
          name,
          JSONValue.object([
            ("sha256", .string(file.sha256)), ("bytes", .number(String(file.byteCount))),
          ])
        )
      })
    let extrasJSON = JSONValue.object(
      sortedKeys(Array(extras.keys)).map { ($0, JSONValue.string(extras[$0]!)) })
    let members: [(key: String, value: JSONValue)] = [
      ("format_version", .number(String(formatVersion))),
      ("snapshot_version", .number(String(version))),
      ("created_at_ms", .number(String(createdAtMilliseconds))),
      ("backbone_sha256", .string(backboneSHA256)),
      ("configuration_digest", .string(configurationDigest)),
      ("offsets", offsetsJSON),
      ("files", filesJSON),
      ("extras", extrasJSON),
    ]
    let lines = members.map { "  " + JSONText.quote($0.key) + ": " + $0.value.text }
    return Array(("{\n" + lines.joined(separator: ",\n") + "\n}\n").utf8)
  }

  /// Why a manifest was refused.
  public struct DecodingError: Error, Sendable, Equatable {
    /// True when the manifest is well formed but of a format version this code cannot read.
    public var isUnknownFormatVersion: Bool
    /// What was wrong and where.
    public var message: String
  }

  /// Parses and validates manifest JSON.
  ///
  /// Throws `DecodingError` for malformed JSON, a missing, extra or mistyped field, or a
  /// `format_version` other than `currentFormatVersion` (checked first, with
  /// `isUnknownFormatVersion` set).
  public static func decode(_ bytes: [UInt8]) throws(DecodingError) -> SnapshotManifest {
    func invalid(_ message: String) -> DecodingError {
      DecodingError(isUnknownFormatVersion: false, message: message)
    }
    let json: JSONValue
    do {
      json = try JSONValue.parse(bytes)
    } catch {
      throw invalid("not valid JSON at byte \(error.offset): \(error.message)")
    }
    guard let members = json.members else { throw invalid("not a JSON object") }
    guard let formatValue = json["format_version"] else {
      throw invalid("\"format_version\" is missing")
    }
    guard let format = formatValue.int64Value.flatMap({ Int(exactly: $0) }) else {
      throw invalid("\"format_version\" is \(formatValue.text), expected an integer")
    }
    guard format == currentFormatVersion else {
      throw DecodingError(
        isUnknownFormatVersion: true,
        message: "format_version \(format) is not supported (this build reads "
          + "\(currentFormatVersion)); was it written by a newer iak-stream?")
    }
    let known = [
      "format_version", "snapshot_version", "created_at_ms", "backbone_sha256",
      "configuration_digest", "offsets", "files", "extras",
    ]
    for (key, _) in members where !known.contains(key) {
      throw invalid("unknown field \(JSONText.quote(key))")
    }
    func integer(_ key: String) throws(DecodingError) -> Int64 {
      guard let value = json[key] else { throw invalid("\"\(key)\" is missing") }
      guard let number = value.int64Value else {
        throw invalid("\"\(key)\" is \(value.text), expected an integer")
      }
      return number
    }
    func string(_ key: String) throws(DecodingError) -> String {
      guard let value = json[key] else { throw invalid("\"\(key)\" is missing") }
      guard let text = value.stringValue else {
        throw invalid("\"\(key)\" is \(value.kindName), expected a string")
      }
      return text
    }
    func object(_ key: String) throws(DecodingError) -> [(key: String, value: JSONValue)] {
      guard let value = json[key] else { throw invalid("\"\(key)\" is missing") }
      guard let members = value.members else {
        throw invalid("\"\(key)\" is \(value.kindName), expected an object")
      }
      return members
    }

    let version = try integer("snapshot_version")
    guard version > 0, let exactVersion = Int(exactly: version) else {
      throw invalid("\"snapshot_version\" is \(version), expected a positive integer")
    }
    var offsets: [TopicPartition: Int64] = [:]
    for (topic, partitions) in try object("offsets") {
      guard let partitionMembers = partitions.members else {
        throw invalid("offsets of topic \(JSONText.quote(topic)) are not an object")
      }
      for (partitionText, offsetValue) in partitionMembers {
        guard let partition = Int32(partitionText), String(partition) == partitionText,
          partition >= 0
        else {
          throw invalid(
            "offsets of topic \(JSONText.quote(topic)): partition "
              + "\(JSONText.quote(partitionText)) is not a partition number")
        }
        guard let offset = offsetValue.int64Value, offset >= 0 else {
          throw invalid(
            "offset of \(topic)/\(partition) is \(offsetValue.text), expected an integer >= 0")
        }
        offsets[TopicPartition(topic: topic, partition: partition)] = offset
      }
    }
    var files: [String: File] = [:]
    for (name, entry) in try object("files") {
      guard !name.isEmpty, name != ".", name != "..", name != fileName,
        !name.contains("/"), !name.utf8.contains(0)
      else {
        throw invalid("file name \(JSONText.quote(name)) is not a plain file name")
      }
      guard let sha256 = entry["sha256"]?.stringValue, sha256.utf8.count == 64,
        sha256.utf8.allSatisfy({ (0x30...0x39).contains($0) || (0x61...0x66).contains($0) })
      else {
        throw invalid("file \(JSONText.quote(name)): \"sha256\" is not 64 lowercase hex digits")
      }
      guard let size = entry["bytes"]?.int64Value, size >= 0, let byteCount = Int(exactly: size)
      else {
        throw invalid("file \(JSONText.quote(name)): \"bytes\" is not a length")
      }
      guard entry.members?.count == 2 else {
        throw invalid("file \(JSONText.quote(name)): expected only \"sha256\" and \"bytes\"")
      }
      files[name] = File(sha256: sha256, byteCount: byteCount)
    }
    var extras: [String: String] = [:]
    for (key, value) in try object("extras") {
      guard let text = value.stringValue else {
        throw invalid("extras \(JSONText.quote(key)) is \(value.kindName), expected a string")
      }
      extras[key] = text
    }
    return SnapshotManifest(
      formatVersion: format, version: exactVersion,
      createdAtMilliseconds: try integer("created_at_ms"),
      backboneSHA256: try string("backbone_sha256"),
      configurationDigest: try string("configuration_digest"), offsets: offsets, files: files,
      extras: extras)
  }
}
