/// Reads what `ByteWriter` wrote, checking every length against the bytes left, so that damaged
/// bytes throw instead of trapping or reserving huge arrays.
public struct ByteReader: Sendable {
  private let bytes: [UInt8]
  /// The next byte to read.
  public private(set) var offset = 0

  /// Creates a reader at the first byte of `bytes`.
  public init(_ bytes: [UInt8]) { self.bytes = bytes }

  /// Whether every byte was read.
  public var isAtEnd: Bool { offset == bytes.count }

  /// How many bytes are left to read.
  public var remainingCount: Int { bytes.count - offset }

  /// Reads `magic` and a version byte equal to `version`.
  ///
  /// - Throws: `ByteReadError` on other magic bytes or another version.
  public mutating func expectMagic(_ magic: String, version: UInt8) throws(ByteReadError) {
    _ = try expectMagic(magic, versions: version...version)
  }

  /// Reads `magic` and a version byte within `versions`; returns the version.
  ///
  /// - Throws: `ByteReadError` on other magic bytes or a version outside `versions`.
  public mutating func expectMagic(
    _ magic: String, versions: ClosedRange<UInt8>
  ) throws(ByteReadError) -> UInt8 {
    for byte in magic.utf8 {
      guard try readByte() == byte else {
        throw ByteReadError("not a \(magic) state: wrong magic bytes at byte \(offset - 1)")
      }
    }
    let found = try readByte()
    guard versions.contains(found) else {
      let expected =
        versions.count == 1
        ? "\(versions.lowerBound)" : "\(versions.lowerBound) to \(versions.upperBound)"
      throw ByteReadError("\(magic) state version \(found) is not supported (expected \(expected))")
    }
    return found
  }

  /// The next byte.
  ///
  /// - Throws: `ByteReadError` at the end of the bytes.
  public mutating func readByte() throws(ByteReadError) -> UInt8 {
    guard offset < bytes.count else { throw truncated(1) }
    defer { offset += 1 }
    return bytes[offset]
  }

  /// The next fixed-width little-endian integer.
  ///
  /// - Throws: `ByteReadError` when fewer bytes are left than the integer needs.
  public mutating func read<Value: FixedWidthInteger>(
    _: Value.Type
  ) throws(ByteReadError) -> Value {
    let size = MemoryLayout<Value>.size
    guard bytes.count - offset >= size else { throw truncated(size) }
    var value = Value.zero
    for index in 0..<size {
      value |= Value(truncatingIfNeeded: bytes[offset + index]) << (8 * index)
    }
    offset += size
    return value
  }

  /// A boolean byte, 0 or 1.
  ///
  /// - Throws: `ByteReadError` at the end of the bytes or on any other byte value.
  public mutating func readBool() throws(ByteReadError) -> Bool {
    switch try readByte() {
    case 0: return false
    case 1: return true
    case let other: throw ByteReadError("byte \(offset - 1): \(other) is not a boolean")
    }
  }

  /// A double from the `u64` of its bit pattern.
  ///
  /// - Throws: `ByteReadError` when fewer than 8 bytes are left.
  public mutating func readDouble() throws(ByteReadError) -> Double {
    Double(bitPattern: try read(UInt64.self))
  }

  /// A string: a `u32` byte count and its UTF-8 bytes.
  ///
  /// - Throws: `ByteReadError` when the bytes are truncated or not valid UTF-8.
  public mutating func readString() throws(ByteReadError) -> String {
    let count = UInt64(try read(UInt32.self))
    return try readUTF8(count: count)
  }

  /// The next `count` bytes as a string.
  ///
  /// - Throws: `ByteReadError` when fewer bytes are left or they are not valid UTF-8.
  private mutating func readUTF8(count wanted: UInt64) throws(ByteReadError) -> String {
    guard wanted <= UInt64(bytes.count - offset) else { throw truncated(Int(clamping: wanted)) }
    let count = Int(wanted)
    guard let text = String(validating: bytes[offset..<offset + count], as: UTF8.self) else {
      throw ByteReadError("byte \(offset): string of \(count) bytes is not valid UTF-8")
    }
    offset += count
    return text
  }

  /// An unsigned LEB128 varint as `ByteWriter.appendVarint(_:)` writes it.
  ///
  /// - Throws: `ByteReadError` when the bytes end inside it, or it is longer than 10 bytes,
  ///   overflows 64 bits, or ends in a zero byte after the first (a value has one encoding).
  public mutating func readVarint() throws(ByteReadError) -> UInt64 {
    let start = offset
    var value: UInt64 = 0
    for index in 0..<10 {
      let byte = try readByte()
      let bits = UInt64(byte & 0x7F)
      guard index < 9 || bits <= 1 else {
        throw ByteReadError("byte \(start): varint overflows 64 bits")
      }
      value |= bits << (7 * UInt64(index))
      if byte & 0x80 == 0 {
        guard index == 0 || byte != 0 else {
          throw ByteReadError("byte \(start): varint with a redundant zero byte")
        }
        return value
      }
    }
    throw ByteReadError("byte \(start): varint longer than 10 bytes")
  }

  /// A string as `ByteWriter.appendShortString(_:)` writes it: a varint byte count and its
  /// UTF-8 bytes.
  ///
  /// - Throws: `ByteReadError` when the bytes are truncated or not valid UTF-8.
  public mutating func readShortString() throws(ByteReadError) -> String {
    let count = try readVarint()
    return try readUTF8(count: count)
  }

  /// A varint count of items each at least `minimumSize` bytes, checked against the bytes left.
  ///
  /// - Throws: `ByteReadError` when the bytes are truncated or the items cannot fit in them.
  public mutating func readVarintCount(minimumSize: Int) throws(ByteReadError) -> Int {
    let start = offset
    // Read first: a call on `self` takes it as it is before its arguments run.
    let count = try readVarint()
    return try fitting(count, minimumSize: minimumSize, countAt: start)
  }

  /// `count`, read at byte `start`, when that many items of `minimumSize` bytes fit in the
  /// bytes left.
  ///
  /// - Throws: `ByteReadError` when they cannot fit.
  private func fitting(
    _ count: UInt64, minimumSize: Int, countAt start: Int
  ) throws(ByteReadError) -> Int {
    guard count <= UInt64((bytes.count - offset) / max(1, minimumSize)) else {
      throw ByteReadError(
        "byte \(start): \(count) items cannot fit in the \(bytes.count - offset) bytes left")
    }
    return Int(count)
  }

  /// A `u32` count of items each at least `minimumSize` bytes, checked against the bytes left.
  ///
  /// - Throws: `ByteReadError` when the bytes are truncated or the items cannot fit in them.
  public mutating func readCount(minimumSize: Int) throws(ByteReadError) -> Int {
    let start = offset
    let count = UInt64(try read(UInt32.self))
    return try fitting(count, minimumSize: minimumSize, countAt: start)
  }

  private func truncated(_ wanted: Int) -> ByteReadError {
    ByteReadError(
      "truncated at byte \(offset): \(wanted) more bytes wanted, \(bytes.count - offset) left")
  }
}
