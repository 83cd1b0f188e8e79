import Checkpoint
import Stream

/// How a partition state larger than one record goes on the state topic: its bytes cut into
/// chunks, each a record of its own under a key unique to that write (`<base>#<generation>/<i>`,
/// base being the partition's key), and then a small head under the partition's key naming the
/// generation, the chunk count, the total length and the sha256 of the whole.
///
/// Chunks are written and delivered before their head, so a head never names a chunk that is not
/// on the topic; a writer deletes (tombstones) the previous generation's chunks only after its new
/// head is delivered. Keys unique per generation keep compaction from mixing two writes.
struct PartitionStateChunks: Equatable {
  /// The first line of a head's value.
  static let magic = "iak-partition-state-chunks 1"

  /// Tells this write's chunk keys apart from every other write's.
  var generation: String
  /// How many chunks.
  var count: Int
  /// Bytes of the whole state.
  var bytes: Int
  /// sha256 of the whole state, lowercase hex.
  var sha256: String

  /// The head of `state` cut into chunks of at most `chunkBytes`.
  init(of state: [UInt8], chunkBytes: Int, generation: String) {
    self.generation = generation
    count = (state.count + chunkBytes - 1) / chunkBytes
    bytes = state.count
    sha256 = SHA256.hexDigest(of: state)
  }

  /// Reads a head back; nil when `value` is not one (a state written whole).
  ///
  /// - Throws: `ServiceError` (`stateUnreadable`) for a head that does not parse.
  init?(head value: [UInt8]) throws {
    let text = String(decoding: value.prefix(4096), as: UTF8.self)
    guard text.hasPrefix(Self.magic + "\n") else { return nil }
    var fields: [String: String] = [:]
    for line in text.split(separator: "\n").dropFirst() {
      guard let equals = line.firstIndex(of: "=") else { continue }
      fields[String(line[..<equals])] = String(line[line.index(after: equals)...])
    }
    guard let generation = fields["generation"], !generation.isEmpty,
      let count = fields["chunks"].flatMap({ Int($0) }), count > 0,
      let bytes = fields["bytes"].flatMap({ Int($0) }), bytes >= 0,
      let sha256 = fields["sha256"], sha256.count == 64
    else {
      throw ServiceError(
        .stateUnreadable, "a chunked partition state's head does not parse: \(text.prefix(300))")
    }
    self.generation = generation
    self.count = count
    self.bytes = bytes
    self.sha256 = sha256
  }

  /// The head's value.
  var head: [UInt8] {
    Array(
      "\(Self.magic)\ngeneration=\(generation)\nchunks=\(count)\nbytes=\(bytes)\nsha256=\(sha256)\n"
        .utf8)
  }

  /// The key prefix of every chunk of the partition whose key is `base`.
  static func chunkPrefix(of base: [UInt8]) -> [UInt8] { base + Array("#".utf8) }

  /// The key of chunk `index` of this generation.
  func key(ofChunk index: Int, base: [UInt8]) -> [UInt8] {
    Self.chunkPrefix(of: base) + Array("\(generation)/\(index)".utf8)
  }

  /// Chunk `index` of `state`.
  func chunk(_ index: Int, of state: [UInt8]) -> [UInt8] {
    let size = (bytes + count - 1) / count
    let start = index * size
    return Array(state[start..<min(start + size, state.count)])
  }

  /// The whole state from the newest record of each key (`latest`), checked against the head.
  ///
  /// - Throws: `ServiceError` (`stateUnreadable`) naming a missing chunk or a length or digest
  ///   that does not match.
  func assemble(base: [UInt8], from latest: [[UInt8]: Record]) throws -> [UInt8] {
    var whole: [UInt8] = []
    whole.reserveCapacity(bytes)
    for index in 0..<count {
      guard let record = latest[key(ofChunk: index, base: base)] else {
        throw ServiceError(
          .stateUnreadable,
          "chunk \(index + 1) of \(count) of generation \(generation) is missing from the state "
            + "topic (deleted, or written by a writer this one raced)")
      }
      whole += record.value
    }
    guard whole.count == bytes, SHA256.hexDigest(of: whole) == sha256 else {
      throw ServiceError(
        .stateUnreadable,
        "the \(count) chunks of generation \(generation) hold \(whole.count) bytes whose sha256 "
          + "is not the head's (\(bytes) bytes, \(sha256))")
    }
    return whole
  }
}
