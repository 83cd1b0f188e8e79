import Base
import Checkpoint
import Foundation

extension SnapshotView {
  /// Manifest extras key holding `{"domain": ["harm", ...]}`: the drift detectors firing for
  /// each domain when the snapshot was taken (an empty list: none). A domain's kernel in that
  /// snapshot counted as healthy when neither `collapse` nor `harm` is listed.
  public static let driftFiringKey = "drift_firing"
  /// Manifest extras key holding a JSON list of the domains whose serving guard had last found
  /// the kernel significantly worse than the backbone (`harm` fires only for a serving kernel,
  /// so a shadowed one found worse is listed here instead); absent in older snapshots.
  public static let judgedWorseKey = "drift_judged_worse"
  /// Manifest extras key holding a JSON list of `RecordedAlert` objects: the drift transitions
  /// since the previous snapshot of the same run.
  public static let alertsKey = "alerts"
  /// Manifest extras key holding the pipeline's newest event time when the snapshot was taken,
  /// in milliseconds since the Unix epoch (where the snapshot sits on the stream's time line).
  public static let eventTimeKey = "event_time_ms"

  /// The newest event time when `manifest`'s snapshot was taken, if recorded.
  public static func eventTime(in manifest: SnapshotManifest) -> Int64? {
    manifest.extras[eventTimeKey].flatMap { Int64($0) }.flatMap { $0 == .min ? nil : $0 }
  }

  /// The domains drift had deactivated when `manifest`'s snapshot was taken.
  public static func deactivatedDomains(in manifest: SnapshotManifest) -> Set<String> {
    DomainBook(metadata: manifest.extras).deactivated
  }

  /// Statistics by domain read from `manifest` alone (see `domainStats`).
  public static func domainStats(in manifest: SnapshotManifest) -> [String: [String: Double]] {
    jsonMap(manifest.extras[domainStatsKey]) { $0.numberMembers }
  }

  /// The detectors firing per domain when `manifest`'s snapshot was taken; a domain missing
  /// from the map was not recorded (a snapshot older than this record).
  public static func firingDetectors(in manifest: SnapshotManifest) -> [String: Set<String>] {
    jsonMap(manifest.extras[driftFiringKey]) { value in
      guard let elements = value.arrayValue else { return nil }
      let names = elements.compactMap(\.stringValue)
      return names.count == elements.count ? Set(names) : nil
    }
  }

  /// Whether `domain`'s kernel was recorded healthy (neither `collapse` nor `harm` firing, and
  /// not last found worse than the backbone by its guard) in `manifest`; nil when the snapshot
  /// did not record it.
  public static func isHealthy(_ domain: String, in manifest: SnapshotManifest) -> Bool? {
    let judgedWorse =
      manifest.extras[judgedWorseKey].flatMap(JSONValue.init(parsing:))?.arrayValue?
      .contains(.string(domain)) ?? false
    return firingDetectors(in: manifest)[domain].map {
      $0.isDisjoint(with: ["collapse", "harm"]) && !judgedWorse
    }
  }

  /// Kernel versions by domain, read from `manifest` alone (no payload needed).
  public static func kernelVersions(in manifest: SnapshotManifest) -> [String: Int] {
    DomainBook(metadata: manifest.extras).kernelVersions
  }

  /// The drift transitions `manifest` records (those since the previous snapshot).
  public static func alerts(in manifest: SnapshotManifest) -> [RecordedAlert] {
    let list = manifest.extras[alertsKey].flatMap(JSONValue.init(parsing:))?.arrayValue ?? []
    return list.compactMap { RecordedAlert(json: $0) }
  }

  /// Encodes a JSON list for the manifest extras.
  public static func encodeList(_ list: [JSONValue]) -> String {
    JSONValue.array(list).text
  }
}
