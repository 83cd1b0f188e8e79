import Base
import Foundation
import Testing

@testable import Checkpoint

@Suite struct SafeTensorsTests {
  /// Two tensors and metadata, with the exact bytes worked out by hand below.
  static let small = SafeTensors(
    tensors: [
      "b": Tensor(int64s: [7], shape: []),
      "a": Tensor(floats: [1.0, -2.0], shape: [2]),
    ],
    metadata: ["k": "v"])

  /// The header as a tree of `JSONValue`s and its text: how it was written before it was
  /// written as bytes.
  static func headerText(of file: SafeTensors) -> String {
    var header: [(key: String, value: JSONValue)] = []
    if !file.metadata.isEmpty {
      let entries = file.metadata.keys.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }.map {
        (key: $0, value: JSONValue.string(file.metadata[$0]!))
      }
      header.append((SafeTensors.metadataKey, .object(entries)))
    }
    var offset = 0
    for name in file.tensors.keys.sorted(by: { $0.utf8.lexicographicallyPrecedes($1.utf8) }) {
      let tensor = file.tensors[name]!
      header.append(
        (
          name,
          .object([
            ("dtype", .string(tensor.dtype.rawValue)),
            ("shape", .array(tensor.shape.map { .number(String($0)) })),
            (
              "data_offsets",
              .array([.number(String(offset)), .number(String(offset + tensor.bytes.count))])
            ),
          ])
        ))
      offset += tensor.bytes.count
    }
    return JSONValue.object(header).text
  }

  @Test func headerMatchesTheJSONValueText() throws {
    // Names that need escapes, non-ASCII names (sorted by their UTF-8 bytes, not as Swift
    // orders strings), a prefix of another name, scalars and empty tensors.
    let names = [
      "layer/1", "layer/10", "layer", "quote\"d", "back\\slash", "line\nbreak", "tab\tx",
      "bell\u{07}", "\u{1F}unit", "é-accent", "e\u{301}-combining", "Ω", "日本", "", "z",
    ]
    var tensors: [String: Tensor] = [:]
    for (index, name) in names.enumerated() {
      switch index % 4 {
      case 0: tensors[name] = Tensor(floats: Array(repeating: 1, count: index), shape: [index])
      case 1: tensors[name] = Tensor(int64s: [Int64(index)], shape: [])
      case 2: tensors[name] = Tensor(uint8s: [], shape: [0, 3])
      default: tensors[name] = Tensor(doubles: [1, 2, 3, 4, 5, 6], shape: [2, 1, 3])
      }
    }
    for metadata in [[:], ["k": "v", "quote\"": "line\n", "Ω": "日本"]] {
      let file = SafeTensors(tensors: tensors, metadata: metadata)
      let first = try #require(file.encodedSegments().first)
      let length = Int(first[0..<8].withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) })
      let header = Array(first[8..<(8 + length)])
      let expected = Array(Self.headerText(of: file).utf8)
      // The header, then spaces to the next multiple of 8.
      #expect(Array(header.prefix(expected.count)) == expected, "\(metadata)")
      #expect(header.count - expected.count < 8)
      #expect(header.dropFirst(expected.count).allSatisfy { $0 == UInt8(ascii: " ") })
      // The file reads back as it was.
      let decoded = try SafeTensors.decode(file.encoded())
      #expect(decoded.tensors == tensors && decoded.metadata == metadata)
    }
  }

  @Test func encodesASmallFileToHandComputedBytes() throws {
    let header =
      #"{"__metadata__":{"k":"v"},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"#
      + #""b":{"dtype":"I64","shape":[],"data_offsets":[8,16]}}"#
    #expect(header.utf8.count == 132)
    var expected: [UInt8] = [136, 0, 0, 0, 0, 0, 0, 0]  // 132 padded to 136
    expected += Array(header.utf8) + [0x20, 0x20, 0x20, 0x20]
    expected += [0x00, 0x00, 0x80, 0x3F]  // 1.0f
    expected += [0x00, 0x00, 0x00, 0xC0]  // -2.0f
    expected += [0x07, 0, 0, 0, 0, 0, 0, 0]  // Int64 7
    #expect(Self.small.encoded() == expected)
    #expect(try SafeTensors.decode(expected) == Self.small)
  }

  @Test func roundTripsEveryDTypeByteForByte() throws {
    let original = SafeTensors(
      tensors: [
        "d/w": Tensor(
          floats: [0.1, -.infinity, .nan, 3e38, -0.0, .leastNonzeroMagnitude], shape: [2, 3]),
        "d/v": Tensor(doubles: [.pi, -1e300], shape: [2, 1]),
        "d/i": Tensor(int32s: [Int32.min, -1, Int32.max], shape: [3]),
        "d/step": Tensor(int64s: [Int64.min, 42], shape: [2]),
        "d/rng": Tensor(uint64s: [UInt64.max, 0x0123_4567_89AB_CDEF], shape: [2]),
        "d/active": Tensor(uint8s: [1], shape: [1]),
        "d/empty": Tensor(floats: [], shape: [0, 4]),
        "é/unicode \"quoted\"\n": Tensor(floats: [1], shape: [1, 1, 1]),
      ],
      metadata: ["domain": "paris|lunch", "quote": "a\"b\\c", "accent": "café"])
    let bytes = original.encoded()
    let decoded = try SafeTensors.decode(bytes)
    #expect(decoded == original)
    #expect(decoded.encoded() == bytes)
    let nanBits = try decoded.tensors["d/w"]!.floats()[2].bitPattern
    #expect(nanBits == Float.nan.bitPattern)
    #expect(try decoded.tensors["d/rng"]!.uint64s() == [UInt64.max, 0x0123_4567_89AB_CDEF])
    #expect(try decoded.tensors["d/i"]!.int32s() == [Int32.min, -1, Int32.max])
    let headerLength = bytes[0..<8].reversed().reduce(0) { $0 << 8 | Int($1) }
    #expect(headerLength % 8 == 0)
  }

  @Test func equalContentGivesIdenticalBytesWhateverTheInsertionOrder() {
    var first = SafeTensors(metadata: ["x": "1", "y": "2"])
    var second = SafeTensors(metadata: ["y": "2", "x": "1"])
    for name in ["c", "a", "b", "B", "a/b"] {
      first.tensors[name] = Tensor(floats: [Float(name.utf8.first!)], shape: [1])
    }
    for name in ["a/b", "B", "b", "a", "c"] {
      second.tensors[name] = Tensor(floats: [Float(name.utf8.first!)], shape: [1])
    }
    #expect(first.encoded() == second.encoded())
    #expect(first.sortedNames == ["B", "a", "a/b", "b", "c"])
  }

  @Test func tensorInitialiserChecksTheByteCount() throws {
    #expect(throws: SafeTensorsError.self) {
      try Tensor(dtype: .f32, shape: [2, 2], bytes: [0, 0, 0, 0])
    }
    #expect(throws: SafeTensorsError.self) {
      try Tensor(dtype: .u8, shape: [-1], bytes: [])
    }
    #expect(throws: SafeTensorsError.self) {
      try Tensor(dtype: .f64, shape: [Int.max, 2], bytes: [])
    }
    let tensor = try Tensor(dtype: .u8, shape: [2], bytes: [1, 2])
    #expect(tensor.elementCount == 2)
    let error = #expect(throws: SafeTensorsError.self) { try tensor.floats() }
    #expect(error?.kind == .dtypeMismatch)
  }

  // MARK: refusing bad input

  /// Builds a file from a header text and data bytes, with the length field as given.
  static func file(_ header: String, data: [UInt8] = [], length: UInt64? = nil) -> [UInt8] {
    let headerBytes = Array(header.utf8)
    var out: [UInt8] = []
    withUnsafeBytes(of: (length ?? UInt64(headerBytes.count)).littleEndian) {
      out.append(contentsOf: $0)
    }
    return out + headerBytes + data
  }

  static func refusal(_ bytes: [UInt8]) -> SafeTensorsError? {
    do {
      _ = try SafeTensors.decode(bytes)
      return nil
    } catch let error as SafeTensorsError {
      return error
    } catch {
      return nil
    }
  }

  @Test func refusesEveryTruncationOfAValidFile() {
    let bytes = Self.small.encoded()
    for length in 0..<bytes.count {
      let error = Self.refusal(Array(bytes[0..<length]))
      #expect(error != nil, "a prefix of \(length) bytes was accepted")
    }
    #expect(Self.refusal([1, 2, 3])?.kind == .truncated)
    #expect(Self.refusal(Array(bytes.dropLast(3)))?.kind == .truncated)
  }

  @Test func refusesAHeaderLengthBeyondTheFile() {
    let error = Self.refusal(Self.file("{}", length: 1 << 62))
    #expect(error?.kind == .truncated)
    #expect(error?.message.contains("header length 4611686018427387904") == true)
    #expect(Self.refusal(Self.file("{}", length: UInt64.max))?.kind == .truncated)
  }

  @Test func refusesOverlappingGappedAndUnclaimedData() {
    let overlap = Self.file(
      #"{"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]},"#
        + #""b":{"dtype":"U8","shape":[4],"data_offsets":[2,6]}}"#,
      data: [UInt8](repeating: 1, count: 6))
    let error = Self.refusal(overlap)
    #expect(error?.kind == .invalidOffsets)
    #expect(
      error?.message.contains("\"b\" starts at data offset 2 and overlaps tensor \"a\"") == true)

    let gap = Self.file(
      #"{"a":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}}"#, data: [0, 0])
    #expect(Self.refusal(gap)?.message.contains("leaves a gap") == true)

    let extra = Self.file(
      #"{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}"#, data: [0, 0])
    #expect(Self.refusal(extra)?.message.contains("1 bytes belong to no tensor") == true)

    let beyond = Self.file(
      #"{"a":{"dtype":"U8","shape":[3],"data_offsets":[0,3]}}"#, data: [0, 0])
    #expect(Self.refusal(beyond)?.kind == .truncated)

    let backwards = Self.file(
      #"{"a":{"dtype":"U8","shape":[0],"data_offsets":[1,0]}}"#, data: [0])
    #expect(Self.refusal(backwards)?.kind == .invalidOffsets)
  }

  @Test func refusesMalformedHeaders() {
    let cases: [(String, SafeTensorsError.Kind, String)] = [
      ("[1]", .invalidHeader, "does not start with '{'"),
      (#"{"a":1"#, .invalidHeader, "unterminated object"),
      (
        #"{"a":{"dtype":"F32","shape":[0],"data_offsets":[0,0]},"a":{}}"#, .invalidHeader,
        "duplicate key \"a\""
      ),
      (
        #"{"a":{"dtype":"BF16","shape":[0],"data_offsets":[0,0]}}"#, .unknownDType,
        "\"BF16\" is not supported"
      ),
      (
        #"{"a":{"dtype":"F32","shape":[1.5],"data_offsets":[0,0]}}"#, .invalidShape, "shape has 1.5"
      ),
      (#"{"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,0]}}"#, .invalidShape, "shape has -1"),
      (#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,0]}}"#, .invalidShape, "does not fill"),
      (
        #"{"a":{"dtype":"F32","shape":[4611686018427387904,4],"data_offsets":[0,0]}}"#,
        .invalidShape, "does not fill"
      ),
      (#"{"a":{"dtype":"F32","shape":[0]}}"#, .invalidHeader, "\"data_offsets\" is missing"),
      (
        #"{"a":{"dtype":"F32","shape":[0],"data_offsets":[0,0],"x":1}}"#, .invalidHeader,
        "unknown key \"x\""
      ),
      (
        #"{"a":{"dtype":"F32","shape":[0],"data_offsets":[0,99999999999999999999]}}"#,
        .invalidOffsets, "non-negative integers"
      ),
      (#"{"__metadata__":{"k":1}}"#, .invalidHeader, "metadata values must be strings"),
      (#"{"__metadata__":[]}"#, .invalidHeader, "must be an object of strings"),
      (#"{"a":"\ud800"}"#, .invalidHeader, "lone high surrogate"),
      ("{\"a\u{01}\":1}", .invalidHeader, "control character"),
      (String(repeating: "{\"a\":", count: 100), .invalidHeader, "nesting deeper"),
    ]
    for (header, kind, phrase) in cases {
      let error = Self.refusal(Self.file(header))
      #expect(error?.kind == kind, "\(header)")
      #expect(error?.message.contains(phrase) == true, "\(header): \(String(describing: error))")
    }
    var invalidUTF8 = Self.file(#"{"ab":{}}"#)
    invalidUTF8[10] = 0xFF
    #expect(Self.refusal(invalidUTF8)?.message.contains("UTF-8") == true)
  }

  @Test func neverTrapsOnRandomBytes() {
    var generator = SplitMix64(seed: 42)
    let valid = Self.small.encoded()
    for round in 0..<2000 {
      var bytes = valid
      let flips = 1 + Int(generator.next() % 4)
      for _ in 0..<flips {
        let index = Int(generator.next() % UInt64(bytes.count))
        bytes[index] ^= UInt8(truncatingIfNeeded: generator.next() | 1)
      }
      if round % 2 == 0 {
        bytes = (0..<Int(generator.next() % 64)).map { _ in
          UInt8(truncatingIfNeeded: generator.next())
        }
      }
      if let decoded = try? SafeTensors.decode(bytes) {
        #expect(decoded.encoded().count <= bytes.count + 8)
      }
    }
  }

  @Test func writesAtomicallyAndReadsBack() throws {
    let folder = try TemporaryFolder()
    let path = folder.path + "/model.safetensors"
    try Self.small.write(to: path)
    #expect(try SafeTensors.read(from: path) == Self.small)
    let failing = SafeTensors(tensors: ["x": Tensor(floats: [9], shape: [1])])
    for stage in [StorageStage.createTemp, .write, .fsync, .rename] {
      #expect(throws: SafeTensorsError.self) {
        try failing.write(to: path, faults: .failing(at: stage, with: EIO))
      }
      #expect(try SafeTensors.read(from: path) == Self.small, "after failing at \(stage)")
    }
    #expect(
      try FileManager.default.contentsOfDirectory(atPath: folder.path) == ["model.safetensors"])
    try Data([1]).write(to: URL(fileURLWithPath: folder.path + "/.model.safetensors.tmp-1-2"))
    #expect(
      try AtomicFile.removeLeftovers(in: folder.path) == [
        folder.path + "/.model.safetensors.tmp-1-2"
      ])
    #expect(
      try FileManager.default.contentsOfDirectory(atPath: folder.path) == ["model.safetensors"])
    let missing = #expect(throws: SafeTensorsError.self) {
      try SafeTensors.read(from: folder.path + "/missing.safetensors")
    }
    #expect(missing?.kind == .io)
    #expect(missing?.message.contains("No such file or directory") == true)
  }
}

/// A fresh folder under the system's temporary directory, removed when released.
final class TemporaryFolder {
  let path: String
  init() throws {
    path = NSTemporaryDirectory() + "checkpoint-tests-" + UUID().uuidString
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
  }
  deinit { try? FileManager.default.removeItem(atPath: path) }
}
