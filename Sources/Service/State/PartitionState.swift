import Base
import Checkpoint
import Foundation

/// One input partition's share of a pipeline's state, as it moves between `serve` processes
/// through the compacted state topic (`checkpoint.state_topic`): the domains the partition owns
/// (kernels with optimiser and noise state, open batches, evaluation, drift detectors), its
/// joiner memory and event-time clock, its counts, and the next offset to read.
///
/// On the wire it is one safetensors document: the tensors under the names a snapshot uses,
/// and the rest in its `__metadata__` (see `encoded()`).
public struct PartitionState: Sendable {
  /// The partition.
  public var partition: TopicPartition
  /// The next offset to read: everything before it is in this state.
  public var nextOffset: Int64
  /// The state tensors (the layout of `Pipeline.stateTensors()`, restricted to the partition).
  public var tensors: [String: Tensor]
  /// The owned domains' share of the pipeline's `DomainBook`: kernel versions and the steps
  /// they name, deactivated and undelivered domains (the new owner publishes those again under
  /// their numbers unless they change), and the retired domains' last versions.
  public var book: DomainBook
  /// sha256 of the backbone the kernels were trained on.
  public var backboneSHA256: String
  /// The folder that backbone was loaded from, when the writer knew it (a member still on
  /// another backbone loads it from there to take the state over).
  public var backboneDirectory: String?
  /// Digest of the settings that shape training (`Pipeline.trainingDigest`): every instance of
  /// a group must agree on them, while paths and ports may differ.
  public var trainingDigest: String
  /// When it was written, in milliseconds since the epoch.
  public var createdAtMilliseconds: Int64

  /// The format name written in the metadata.
  public static let format = "iak-partition-state/1"

  /// Creates a partition state.
  public init(
    partition: TopicPartition, nextOffset: Int64, tensors: [String: Tensor], book: DomainBook,
    backboneSHA256: String, backboneDirectory: String? = nil, trainingDigest: String,
    createdAtMilliseconds: Int64
  ) {
    self.partition = partition
    self.nextOffset = nextOffset
    self.tensors = tensors
    self.book = book
    self.backboneSHA256 = backboneSHA256
    self.backboneDirectory = backboneDirectory
    self.trainingDigest = trainingDigest
    self.createdAtMilliseconds = createdAtMilliseconds
  }

  /// The state as a safetensors document; `init(bytes:)` reads it back.
  public func encoded() -> [UInt8] {
    var metadata = [
      "format": Self.format,
      "topic": partition.topic,
      "partition": String(partition.partition),
      "next_offset": String(nextOffset),
      "backbone_sha256": backboneSHA256,
      "training_digest": trainingDigest,
      "created_at_ms": String(createdAtMilliseconds),
    ]
    if let backboneDirectory { metadata["backbone_dir"] = backboneDirectory }
    return SafeTensors(
      tensors: tensors, metadata: metadata.merging(book.encoded()) { first, _ in first }
    ).encoded()
  }

  /// Reads a state written by `encoded()`.
  ///
  /// - Throws: `ServiceError` (`stateUnreadable`) naming what is wrong when the bytes are not
  ///   such a state.
  public init(bytes: [UInt8]) throws {
    let document: SafeTensors
    do {
      document = try SafeTensors.decode(bytes)
    } catch {
      throw ServiceError(.stateUnreadable, "partition state: not a safetensors document (\(error))")
    }
    let metadata = document.metadata
    guard metadata["format"] == Self.format else {
      throw ServiceError(
        .stateUnreadable,
        "partition state: format '\(metadata["format"] ?? "none")', expected '\(Self.format)'")
    }
    func field(_ name: String) throws -> String {
      guard let value = metadata[name] else {
        throw ServiceError(.stateUnreadable, "partition state: metadata '\(name)' is missing")
      }
      return value
    }
    func number(_ name: String) throws -> Int64 {
      guard let value = Int64(try field(name)) else {
        throw ServiceError(
          .stateUnreadable, "partition state: metadata '\(name)' is not an integer")
      }
      return value
    }
    let partitionNumber = try number("partition")
    guard let partition = Int32(exactly: partitionNumber), partition >= 0 else {
      throw ServiceError(
        .stateUnreadable, "partition state: partition \(partitionNumber) is out of range")
    }
    self.init(
      partition: TopicPartition(topic: try field("topic"), partition: partition),
      nextOffset: try number("next_offset"), tensors: document.tensors,
      book: DomainBook(metadata: metadata),
      backboneSHA256: try field("backbone_sha256"), backboneDirectory: metadata["backbone_dir"],
      trainingDigest: try field("training_digest"),
      createdAtMilliseconds: try number("created_at_ms"))
  }
}

/// A partition state as it goes on the state topic: its bytes (`PartitionState.encoded()`) and
/// what a write names it by. A checkpoint encodes each partition's state as soon as it is made,
/// so that only the bytes, not the tensors as well, wait for the partition's transaction.
public struct EncodedPartitionState: Sendable {
  /// The input partition.
  public let partition: TopicPartition
  /// The next offset of `partition` the state covers.
  public let nextOffset: Int64
  /// When the state was made, milliseconds since the epoch.
  public let createdAtMilliseconds: Int64
  /// `PartitionState.encoded()`.
  public let bytes: [UInt8]

  /// Encodes `state`.
  public init(_ state: PartitionState) {
    partition = state.partition
    nextOffset = state.nextOffset
    createdAtMilliseconds = state.createdAtMilliseconds
    bytes = state.encoded()
  }
}
