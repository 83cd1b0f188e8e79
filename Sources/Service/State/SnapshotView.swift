import Base
import Checkpoint
import Foundation
import Learner

/// Reads the service's conventions out of a generic snapshot: kernels stored as `<domain>/...`
/// state tensors, per-domain kernel versions and statistics in the manifest's extras.
public struct SnapshotView {
  /// Manifest extras key holding `{"domain": kernelVersion}` as JSON (`DomainBook`).
  public static let kernelVersionsKey = DomainBook.kernelVersionsKey
  /// Manifest extras key holding `{"domain": {"examples":..,"auc":..,...}}` as JSON.
  public static let domainStatsKey = "domain_stats"

  /// The snapshot read.
  public let snapshot: Snapshot

  /// Wraps a loaded snapshot.
  public init(_ snapshot: Snapshot) { self.snapshot = snapshot }

  /// Domains that have a kernel, sorted.
  public var domains: [String] {
    let suffix = "/encoder.weight"
    return snapshot.payload.tensors.keys.filter { $0.hasSuffix(suffix) }
      .map { String($0.dropLast(suffix.count)) }.sorted()
  }

  /// The state tensors of `domain`'s kernel (names keep their `<domain>/` prefix).
  public func tensors(of domain: String) -> [String: Tensor] {
    let prefix = domain + "/"
    return snapshot.payload.tensors.filter { name, _ in
      name.hasPrefix(prefix) && !name.dropFirst(prefix.count).contains("/")
    }
  }

  /// The kernel of `domain`.
  ///
  /// - Throws: `LearnerError.invalidModel` when its tensors are malformed or missing.
  public func kernel(of domain: String) throws -> IAKKernel {
    try IAKKernel(domain: domain, stateTensors: tensors(of: domain), prefix: domain + "/")
  }

  /// The snapshot's domain book: kernel versions, deactivated and retired domains.
  public var book: DomainBook { DomainBook(metadata: snapshot.manifest.extras) }

  /// Kernel versions by domain (0 for a domain never published).
  public var kernelVersions: [String: Int] { book.kernelVersions }

  /// Statistics by domain, as numbers keyed by name (`examples`, `auc`, `backbone_auc`, ...).
  public var domainStats: [String: [String: Double]] {
    Self.jsonMap(snapshot.manifest.extras[Self.domainStatsKey]) { $0.numberMembers }
  }

  /// Encodes `{"key": value}` JSON for the manifest extras, keys sorted.
  public static func encodeMap(_ map: [String: JSONValue]) -> String {
    JSONValue.sortedObject(map).text
  }

  /// Encodes `{"key": number}` JSON for the manifest extras, keys sorted.
  public static func encodeMap(_ map: [String: Int]) -> String {
    encodeMap(map.mapValues { JSONValue.int($0) })
  }

  /// Encodes `{"domain": {"name": number}}` JSON for the manifest extras, keys sorted.
  public static func encodeMap(_ map: [String: [String: Double]]) -> String {
    encodeMap(map.mapValues { .sortedObject($0.mapValues { JSONValue.double($0) }) })
  }

  /// The members of the JSON object `text` that `transform` reads; empty when `text` is missing
  /// or not a JSON object.
  static func jsonMap<Value>(_ text: String?, _ transform: (JSONValue) -> Value?)
    -> [String: Value]
  {
    guard let members = text.flatMap(JSONValue.init(parsing:))?.members else { return [:] }
    var map: [String: Value] = [:]
    for (key, value) in members {
      if let read = transform(value) { map[key] = read }
    }
    return map
  }
}
