import Base
import Checkpoint
import Foundation

/// The cross-check of a snapshot's manifest against its payload: the manifest is checksummed,
/// but its offsets are what a restart trusts most (a damaged offset trains records twice or
/// skips them), so the payload holds them a second time.
extension Pipeline {
  /// The payload's copy of the offsets (`uint8`, JSON `[[topic, partition, next offset], ...]`).
  /// Absent in snapshots written before it was recorded.
  static let offsetsTensor = ".pipeline/offsets"

  /// The next offset of every partition as `offsetsTensor` holds it.
  func offsetsTensorValue() -> Tensor {
    let rows: [[Any]] = offsets.keys.sorted().map { [$0.topic, Int($0.partition), offsets[$0]!] }
    let data = (try? JSONSerialization.data(withJSONObject: rows)) ?? Data("[]".utf8)
    return Tensor(uint8s: Array(data), shape: [data.count])
  }

  /// What is wrong between `snapshot`'s manifest and its payload, or nil when they agree (or
  /// the payload predates the offsets' copy): the offsets must be the same, partition by
  /// partition.
  static func payloadProblem(of snapshot: Snapshot) -> String? {
    let manifestOffsets = snapshot.manifest.offsets
    guard let tensor = snapshot.payload.tensors[offsetsTensor] else { return nil }
    guard let bytes = try? tensor.uint8s(),
      let rows = try? JSONSerialization.jsonObject(with: Data(bytes)) as? [[Any]]
    else { return "\(offsetsTensor) in \(SnapshotStore.payloadFileName) is not a JSON list" }
    var recorded: [TopicPartition: Int64] = [:]
    for row in rows {
      guard row.count == 3, let topic = row[0] as? String, let partition = row[1] as? Int,
        let offset = row[2] as? Int, let number = Int32(exactly: partition)
      else { return "\(offsetsTensor) holds a malformed row \(row)" }
      recorded[TopicPartition(topic: topic, partition: number)] = Int64(offset)
    }
    guard recorded != manifestOffsets else { return nil }
    func text(_ offsets: [TopicPartition: Int64]) -> String {
      offsets.isEmpty
        ? "none"
        : offsets.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
          .joined(separator: ",")
    }
    return "the offsets of \(SnapshotManifest.fileName) (\(text(manifestOffsets))) differ from "
      + "those its payload recorded (\(text(recorded))); one of the two was damaged, and a "
      + "restart from it would train records twice or skip them"
  }
}
