import Base

/// The last kernel version of a domain retired beyond `domain.max_domains`, kept so that the
/// domain, started again later, numbers its kernels on from there instead of from 1 (a kernel
/// version names one set of weights, for the life of the kernels topic).
///
/// In a snapshot's extras (`retired_kernel_versions`) and a partition state's metadata the
/// whole map is one JSON object: `{"1998-01/east": {"version": 3, "lane": 0}}`; `lane` is left
/// out when the lane is not known (a domain restored from a snapshot that did not record it).
/// One entry is a few dozen bytes; one is kept per retired domain until it comes back.
public struct RetiredVersion: Sendable, Equatable {
  /// The domain's newest kernel version when it was retired.
  public var version: Int
  /// The lane (input partition) that owned it, which takes the entry with it on a hand-over.
  public var lane: Int32?

  /// Creates an entry.
  public init(version: Int, lane: Int32?) {
    self.version = version
    self.lane = lane
  }

  /// The key of the map in snapshot extras and partition-state metadata.
  public static let key = "retired_kernel_versions"

  /// `map` as the JSON text described above, keys sorted.
  public static func encode(_ map: [String: RetiredVersion]) -> String {
    SnapshotView.encodeMap(
      map.mapValues { entry -> JSONValue in
        var object: [String: JSONValue] = ["version": .int(entry.version)]
        if let lane = entry.lane { object["lane"] = .int(lane) }
        return .sortedObject(object)
      })
  }

  /// `[key: encode(map)]`, or nothing when `map` is empty (snapshots of pipelines that never
  /// retired a domain keep the extras they always had).
  public static func extras(_ map: [String: RetiredVersion]) -> [String: String] {
    map.isEmpty ? [:] : [key: encode(map)]
  }

  /// Reads what `encode` wrote; a missing or malformed text or entry reads as no entry (the
  /// domain then numbers from 1, as before these entries existed).
  public static func decode(_ text: String?) -> [String: RetiredVersion] {
    SnapshotView.jsonMap(text) { value in
      guard let version = value["version"]?.intValue, version >= 1 else { return nil }
      let lane = value["lane"]?.intValue.flatMap { Int32(exactly: $0) }
      return RetiredVersion(version: version, lane: lane)
    }
  }
}
