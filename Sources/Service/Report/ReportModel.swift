import Base
import Checkpoint
import Foundation
import Learner
import Observability

/// What `iak-stream report` shows, gathered from a snapshot store (every retained snapshot's
/// manifest: per-domain statistics, kernel versions, firing detectors, alerts, event time; the
/// newest valid snapshot's kernels) and optionally a `replay --summary` document (overall
/// figures and every alert of the run).
public struct ReportModel {
  /// One retained snapshot's figures for one domain.
  public struct Point: Sendable, Equatable {
    /// The snapshot version.
    public var snapshotVersion: Int
    /// The stream's event time when it was taken, if recorded.
    public var eventTimeMs: Int64?
    /// The domain's kernel version in it.
    public var kernelVersion: Int
    /// The domain's statistics (`SnapshotView.domainStats`).
    public var stats: [String: Double]
  }

  /// Everything about one domain.
  public struct Domain: Sendable, Equatable {
    /// The domain's name, as in the data (escape before display).
    public var name: String
    /// Its figures over the retained snapshots, oldest first, one per snapshot in which its
    /// example count changed (plus the first).
    public var points: [Point]
    /// The newest figures (newest snapshot, else the summary).
    public var latest: [String: Double]
    /// The newest kernel version.
    public var kernelVersion: Int
    /// Whether the kernel serves, from the newest valid snapshot; nil when unknown.
    public var isActive: Bool?
    /// Whether drift deactivated it in the newest snapshot.
    public var isDeactivated: Bool
    /// Detectors firing in the newest snapshot that records them.
    public var firing: Set<String>
    /// Its alerts, in event-time order.
    public var alerts: [RecordedAlert]
  }

  /// The store's folder.
  public var checkpointDirectory: String
  /// The summary file read, if any.
  public var summaryPath: String?
  /// Versions of the retained snapshots whose manifest could be read, ascending.
  public var snapshotVersions: [Int]
  /// The newest readable manifest.
  public var newest: SnapshotManifest?
  /// Domains, sorted by name.
  public var domains: [Domain]
  /// Overall figures of the summary (`records`, `examples`, `auc_mean_by_examples`, ...).
  public var overall: [String: Double]
  /// What could not be read, for the page and the log.
  public var problems: [String]

  /// Reads the store in `checkpointDirectory` and, if given, the summary at `summaryPath`.
  ///
  /// - Throws: `SnapshotStoreError` when the folder cannot be opened or listed, `ServiceError`
  ///   (`io`) when the summary cannot be read, `UsageError` when it is not a replay summary.
  public static func load(
    checkpointDirectory: String, summaryPath: String?, logger: Logger
  ) throws -> ReportModel {
    let store = try SnapshotStore(
      directory: checkpointDirectory, keep: 1_000_000, createIfMissing: false)
    var problems: [String] = []
    var manifests: [SnapshotManifest] = []
    for listing in try store.listVersions() {
      if let manifest = listing.manifest {
        manifests.append(manifest)
      } else {
        problems.append(
          "snapshot \(listing.version): \(listing.problem.map { "\($0)" } ?? "no manifest")")
      }
    }
    var builders: [String: DomainBuilder] = [:]
    for manifest in manifests {
      let versions = SnapshotView.kernelVersions(in: manifest)
      let time = SnapshotView.eventTime(in: manifest)
      for (domain, stats) in SnapshotView.domainStats(in: manifest) {
        builders[domain, default: DomainBuilder()].add(
          Point(
            snapshotVersion: manifest.version, eventTimeMs: time,
            kernelVersion: versions[domain] ?? Int(stats["kernel_version"] ?? 0), stats: stats))
      }
      for (domain, firing) in SnapshotView.firingDetectors(in: manifest) {
        builders[domain, default: DomainBuilder()].firing = firing
      }
      for alert in SnapshotView.alerts(in: manifest) {
        builders[alert.domain, default: DomainBuilder()].add(alert)
      }
    }
    var active: [String: Bool] = [:]
    var deactivated: Set<String> = []
    if !manifests.isEmpty {
      do {
        let view = SnapshotView(
          try store.newestValidSnapshot(expectingBackbone: nil, logger: logger))
        deactivated = SnapshotView.deactivatedDomains(in: view.snapshot.manifest)
        for domain in view.domains {
          if let kernel = try? view.kernel(of: domain) { active[domain] = kernel.isActive }
        }
      } catch {
        problems.append("no snapshot could be loaded to read the kernels: \(error)")
      }
    }
    var overall: [String: Double] = [:]
    if let summaryPath {
      let summary = try Self.readSummary(summaryPath)
      overall = summary.overall
      for (domain, row) in summary.domains {
        var builder = builders[domain, default: DomainBuilder()]
        if builder.latest.isEmpty { builder.latest = row.stats }
        for alert in row.alerts { builder.add(alert) }
        builders[domain] = builder
      }
    }
    let domains = builders.keys.sorted().map { name -> Domain in
      let builder = builders[name]!
      return Domain(
        name: name, points: builder.points, latest: builder.latest,
        kernelVersion: builder.points.last?.kernelVersion
          ?? Int(builder.latest["kernel_version"] ?? 0),
        // Serving: active, not deactivated, and passed by the serving guard (`serving` in the
        // statistics; snapshots from before it say nothing).
        isActive: active[name].map {
          $0 && !deactivated.contains(name) && (builder.latest["serving"] ?? 1) == 1
        },
        isDeactivated: deactivated.contains(name), firing: builder.firing,
        alerts: builder.alerts.values.sorted {
          ($0.eventTimeMs, $0.detector, $0.status) < ($1.eventTimeMs, $1.detector, $1.status)
        })
    }
    return ReportModel(
      checkpointDirectory: checkpointDirectory, summaryPath: summaryPath,
      snapshotVersions: manifests.map(\.version), newest: manifests.last, domains: domains,
      overall: overall, problems: problems)
  }

  /// Collects one domain's figures in snapshot order.
  private struct DomainBuilder {
    var points: [Point] = []
    var latest: [String: Double] = [:]
    var firing: Set<String> = []
    /// Alerts by identity: the same transition read from a snapshot and from the summary
    /// counts once (the copy that knows its action wins).
    var alerts: [String: RecordedAlert] = [:]

    mutating func add(_ point: Point) {
      latest = point.stats
      if let last = points.last, last.stats["examples"] == point.stats["examples"] {
        return
      }
      points.append(point)
    }

    mutating func add(_ alert: RecordedAlert) {
      let key = "\(alert.detector)|\(alert.status)|\(alert.eventTimeMs)|\(alert.kernelVersion)"
      if alerts[key]?.action == nil { alerts[key] = alert }
    }
  }

  /// A summary's per-domain row.
  private struct SummaryDomain {
    var stats: [String: Double]
    var alerts: [RecordedAlert]
  }

  private static func readSummary(_ path: String) throws -> (
    overall: [String: Double], domains: [String: SummaryDomain]
  ) {
    let data: Data
    do {
      data = try Data(contentsOf: URL(fileURLWithPath: path))
    } catch {
      throw ServiceError(.io, "--summary \(path): cannot read it: \(error.localizedDescription)")
    }
    guard let document = try? JSONValue.parse(Array(data)),
      document["schema"]?.stringValue?.hasPrefix("iak-replay-summary/") == true
    else {
      throw UsageError(
        "--summary \(path): not a replay summary (expected JSON with \"schema\": "
          + "\"iak-replay-summary/1\", as `iak-stream replay --summary` writes)")
    }
    let overall = document["overall"]?.numberMembers ?? [:]
    var domains: [String: SummaryDomain] = [:]
    for (name, row) in document["domains"]?.members ?? [] {
      guard let stats = row.numberMembers else { continue }
      domains[name] = SummaryDomain(
        stats: stats,
        alerts: (row["alerts"]?.arrayValue ?? []).compactMap {
          RecordedAlert(json: $0, domain: name)
        })
    }
    return (overall, domains)
  }
}
