import Base

/// What stands for the retired entries a book dropped (`DomainBook.dropRetired(where:)`): the
/// highest version among them and the latest start of their periods. A domain with no version
/// and no retired entry whose period starts no later than `windowStartMilliseconds` may be one
/// of them, back: it numbers on from `version`, so no (domain, version) pair names two sets of
/// weights even after its entry is gone.
///
/// In a snapshot's extras and a partition state's metadata it is one JSON object under
/// `retired_version_floor`: `{"version": 12, "window_start_ms": 883612800000}`.
public struct RetiredFloor: Sendable, Equatable {
  /// The highest version of a dropped entry.
  public var version: Int
  /// The latest period start (`DomainWindow.nameStartMilliseconds`) of a dropped entry.
  public var windowStartMilliseconds: Int64

  /// Creates a floor.
  public init(version: Int, windowStartMilliseconds: Int64) {
    self.version = version
    self.windowStartMilliseconds = windowStartMilliseconds
  }

  /// The key in snapshot extras and partition-state metadata.
  public static let key = "retired_version_floor"

  /// A floor standing for the entries of both (a book taking over another's share): the higher
  /// version and the later start, which covers every domain either covers.
  public func merged(with other: RetiredFloor?) -> RetiredFloor {
    guard let other else { return self }
    return RetiredFloor(
      version: max(version, other.version),
      windowStartMilliseconds: max(windowStartMilliseconds, other.windowStartMilliseconds))
  }

  /// `[key: JSON text]`, or nothing for no floor.
  static func extras(_ floor: RetiredFloor?) -> [String: String] {
    guard let floor else { return [:] }
    let object: [String: JSONValue] = [
      "version": .int(floor.version), "window_start_ms": .int(floor.windowStartMilliseconds),
    ]
    return [key: JSONValue.sortedObject(object).text]
  }

  /// Reads what `extras` wrote; a missing or malformed text reads as no floor.
  static func decode(_ text: String?) -> RetiredFloor? {
    guard let value = text.flatMap(JSONValue.init(parsing:)),
      let version = value["version"]?.intValue, version >= 1,
      let start = value["window_start_ms"]?.int64Value
    else { return nil }
    return RetiredFloor(version: version, windowStartMilliseconds: start)
  }
}
