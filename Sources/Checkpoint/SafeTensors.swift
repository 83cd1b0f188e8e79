import Base
import Foundation

/// A set of named tensors with string metadata, in the safetensors file format.
///
/// Format (public, as written by the Hugging Face `safetensors` library): an 8-byte little-endian
/// header length N, N bytes of UTF-8 JSON mapping each tensor name to
/// `{"dtype","shape","data_offsets":[begin,end]}` plus an optional `"__metadata__"` string map,
/// then the tensors' bytes back to back. Encoding is deterministic: metadata first, then tensors
/// sorted by the UTF-8 bytes of their names, compact JSON padded with spaces to a multiple of 8
/// bytes, so equal values give byte-identical files.
public struct SafeTensors: Sendable, Equatable {
  /// The header key reserved for metadata; no tensor may use it as a name.
  public static let metadataKey = "__metadata__"

  /// The tensors by name; callers name them `<domain>/<tensor>`.
  public var tensors: [String: Tensor]
  /// Free-form string metadata stored in the header.
  public var metadata: [String: String]

  /// Creates a set of tensors with metadata.
  public init(tensors: [String: Tensor] = [:], metadata: [String: String] = [:]) {
    self.tensors = tensors
    self.metadata = metadata
  }

  /// The tensor names in file order: sorted by their UTF-8 bytes.
  public var sortedNames: [String] { Self.sortedByUTF8(Array(tensors.keys)) }

  /// The complete file contents.
  ///
  /// Traps if a tensor is named `__metadata__`, which the format cannot represent; `write(to:)`
  /// checks that and throws instead.
  public func encoded() -> [UInt8] {
    let segments = encodedSegments()
    var out = [UInt8]()
    out.reserveCapacity(segments.reduce(0) { $0 + $1.count })
    for segment in segments { out.append(contentsOf: segment) }
    return out
  }

  /// The file contents in pieces, without copying a tensor: the length and header, then each
  /// tensor's bytes in file order. Joined they are `encoded()`; a large file can be written
  /// piece by piece without a second copy of its tensors in memory.
  ///
  /// Traps if a tensor is named `__metadata__` (see `encoded()`).
  public func encodedSegments() -> [[UInt8]] {
    precondition(
      tensors[SafeTensors.metadataKey] == nil,
      "SafeTensors: a tensor may not be named \(SafeTensors.metadataKey)")
    // The header, written as bytes: with tens of thousands of tensors (a snapshot of 2,000
    // domains), a tree of `JSONValue`s and its text were most of a checkpoint's encoding.
    // `headerMatchesTheJSONValueText` holds it to the text of that tree, byte for byte.
    let names = sortedNames
    var headerBytes: [UInt8] = []
    headerBytes.reserveCapacity(64 + names.reduce(0) { $0 + $1.utf8.count + 80 })
    headerBytes.append(UInt8(ascii: "{"))
    if !metadata.isEmpty {
      let entries = Self.sortedByUTF8(Array(metadata.keys)).map {
        (key: $0, value: JSONValue.string(metadata[$0]!))
      }
      JSONText.appendQuoted(SafeTensors.metadataKey, to: &headerBytes)
      headerBytes.append(UInt8(ascii: ":"))
      headerBytes.append(contentsOf: JSONValue.object(entries).text.utf8)
    }
    var offset = 0
    for name in names {
      let tensor = tensors[name]!
      if headerBytes.count > 1 { headerBytes.append(UInt8(ascii: ",")) }
      JSONText.appendQuoted(name, to: &headerBytes)
      headerBytes.append(contentsOf: #":{"dtype":"#.utf8)
      JSONText.appendQuoted(tensor.dtype.rawValue, to: &headerBytes)
      headerBytes.append(contentsOf: #","shape":["#.utf8)
      for (index, extent) in tensor.shape.enumerated() {
        if index > 0 { headerBytes.append(UInt8(ascii: ",")) }
        headerBytes.append(contentsOf: String(extent).utf8)
      }
      headerBytes.append(contentsOf: #"],"data_offsets":["#.utf8)
      headerBytes.append(contentsOf: String(offset).utf8)
      headerBytes.append(UInt8(ascii: ","))
      offset += tensor.bytes.count
      headerBytes.append(contentsOf: String(offset).utf8)
      headerBytes.append(contentsOf: "]}".utf8)
    }
    headerBytes.append(UInt8(ascii: "}"))
    let padding = (8 - headerBytes.count % 8) % 8
    var first = [UInt8]()
    first.reserveCapacity(8 + headerBytes.count + padding)
    withUnsafeBytes(of: UInt64(headerBytes.count + padding).littleEndian) {
      first.append(contentsOf: $0)
    }
    first.append(contentsOf: headerBytes)
    first.append(contentsOf: repeatElement(UInt8(ascii: " "), count: padding))
    return [first] + names.map { tensors[$0]!.bytes }
  }

  /// Reads and decodes the file at `path`.
  ///
  /// Throws `SafeTensorsError` (`.io` if the file cannot be read; otherwise what `decode` throws,
  /// with the path in the message).
  public static func read(from path: String) throws -> SafeTensors {
    let bytes: [UInt8]
    do {
      bytes = try FileBytes.readAll(path)
    } catch {
      throw SafeTensorsError(.io, "cannot read \(path): \(error.reason)")
    }
    do {
      return try decode(bytes)
    } catch let error as SafeTensorsError {
      throw SafeTensorsError(error.kind, "\(path): \(error.message)")
    }
  }

  /// Writes the file at `path` atomically (temporary file in the same folder, fsync, rename,
  /// fsync of the folder), so readers see the old file or the new one, never a mix.
  ///
  /// Throws `SafeTensorsError` (`.invalidShape` for a tensor named `__metadata__`, `.io` with the
  /// failing stage and the system's reason otherwise).
  public func write(to path: String, faults: StorageFaults = .none) throws {
    guard tensors[SafeTensors.metadataKey] == nil else {
      throw SafeTensorsError(
        .invalidShape,
        "cannot write \(path): a tensor is named \(SafeTensors.metadataKey), which the format "
          + "reserves; rename it")
    }
    do {
      try AtomicFile.write(encoded(), to: path, faults: faults)
    } catch {
      throw SafeTensorsError(.io, error.description)
    }
  }

  /// Whether one string's UTF-8 bytes come before another's, the order used in the file: one
  /// `memcmp` of what they share, then the shorter first.
  private static func precedes(
    _ left: UnsafeBufferPointer<UInt8>, _ right: UnsafeBufferPointer<UInt8>
  ) -> Bool {
    let shared = min(left.count, right.count)
    let order = shared == 0 ? 0 : memcmp(left.baseAddress!, right.baseAddress!, shared)
    return order != 0 ? order < 0 : left.count < right.count
  }

  /// `names` sorted by their UTF-8 bytes (`precedes`). Their bytes are copied into one buffer
  /// first and the sort compares spans of it: a snapshot of 2,000 domains names many thousands
  /// of tensors, and sorting them as strings was about 3% of the training thread in a soak.
  static func sortedByUTF8(_ names: [String]) -> [String] {
    var bytes: [UInt8] = []
    bytes.reserveCapacity(names.reduce(0) { $0 + $1.utf8.count })
    var spans: [Range<Int>] = []
    spans.reserveCapacity(names.count)
    for name in names {
      let start = bytes.count
      bytes.append(contentsOf: name.utf8)
      spans.append(start..<bytes.count)
    }
    var order = Array(names.indices)
    bytes.withUnsafeBufferPointer { bytes in
      spans.withUnsafeBufferPointer { spans in
        order.sort {
          precedes(
            UnsafeBufferPointer(rebasing: bytes[spans[$0]]),
            UnsafeBufferPointer(rebasing: bytes[spans[$1]]))
        }
      }
    }
    return order.map { names[$0] }
  }
}
