import Base
import Checkpoint

/// The cross-check of a snapshot's manifest against its payload: the manifest is checksummed,
/// but its offsets are what a restart trusts most (a damaged offset trains records twice or
/// skips them), so the payload holds them a second time.
extension Pipeline {
  /// The payload's copy of the offsets (`uint8`, JSON `[[topic, partition, next offset], ...]`).
  /// Absent in snapshots written before it was recorded.
  static let offsetsTensor = ".pipeline/offsets"

  /// The next offset of every partition as `offsetsTensor` holds it.
  func offsetsTensorValue() -> Tensor {
    let rows = offsets.keys.sorted().map { partition -> JSONValue in
      .array([.string(partition.topic), .int(partition.partition), .int(offsets[partition]!)])
    }
    let bytes = Array(JSONValue.array(rows).text.utf8)
    return Tensor(uint8s: bytes, shape: [bytes.count])
  }

  /// What is wrong between `snapshot`'s manifest and its payload, or nil when they agree (or
  /// the payload predates the offsets' copy): the offsets must be the same, partition by
  /// partition.
  static func payloadProblem(of snapshot: Snapshot) -> String? {
    let manifestOffsets = snapshot.manifest.offsets
    guard let tensor = snapshot.payload.tensors[offsetsTensor] else { return nil }
    guard let bytes = try? tensor.uint8s(),
      let rows = JSONValue(parsing: String(decoding: bytes, as: UTF8.self))?.arrayValue
    else { return "\(offsetsTensor) in \(SnapshotStore.payloadFileName) is not a JSON list" }
    var recorded: [TopicPartition: Int64] = [:]
    for row in rows {
      let cells = row.arrayValue ?? []
      guard cells.count == 3, let topic = cells[0].stringValue,
        let number = cells[1].intValue.flatMap({ Int32(exactly: $0) }),
        let offset = cells[2].int64Value
      else { return "\(offsetsTensor) holds a malformed row \(row.text)" }
      recorded[TopicPartition(topic: topic, partition: number)] = offset
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
