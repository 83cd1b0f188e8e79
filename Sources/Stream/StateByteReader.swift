/// Reads what `StateByteWriter` wrote, checking every length against the bytes left.
struct StateByteReader {
  private let bytes: [UInt8]
  private(set) var offset = 0

  init(_ bytes: [UInt8]) { self.bytes = bytes }

  var isAtEnd: Bool { offset == bytes.count }

  mutating func expectMagic(_ magic: String, version: UInt8) throws(StateBytesError) {
    _ = try expectMagic(magic, versions: version...version)
  }

  /// Reads `magic` and a version byte within `versions`; returns the version.
  mutating func expectMagic(_ magic: String, versions: ClosedRange<UInt8>) throws(StateBytesError)
    -> UInt8
  {
    for byte in magic.utf8 {
      guard try readByte() == byte else {
        throw StateBytesError("not a \(magic) state: wrong magic bytes at byte \(offset - 1)")
      }
    }
    let found = try readByte()
    guard versions.contains(found) else {
      let expected =
        versions.count == 1
        ? "\(versions.lowerBound)" : "\(versions.lowerBound) to \(versions.upperBound)"
      throw StateBytesError(
        "\(magic) state version \(found) is not supported (expected \(expected))")
    }
    return found
  }

  mutating func readByte() throws(StateBytesError) -> UInt8 {
    guard offset < bytes.count else { throw truncated(1) }
    defer { offset += 1 }
    return bytes[offset]
  }

  mutating func read<Value: FixedWidthInteger>(_: Value.Type) throws(StateBytesError) -> Value {
    let size = MemoryLayout<Value>.size
    guard bytes.count - offset >= size else { throw truncated(size) }
    var value = Value.zero
    for index in 0..<size {
      value |= Value(truncatingIfNeeded: bytes[offset + index]) << (8 * index)
    }
    offset += size
    return value
  }

  mutating func readBool() throws(StateBytesError) -> Bool {
    switch try readByte() {
    case 0: return false
    case 1: return true
    case let other: throw StateBytesError("byte \(offset - 1): \(other) is not a boolean")
    }
  }

  mutating func readDouble() throws(StateBytesError) -> Double {
    Double(bitPattern: try read(UInt64.self))
  }

  mutating func readString() throws(StateBytesError) -> String {
    let count = Int(try read(UInt32.self))
    guard bytes.count - offset >= count else { throw truncated(count) }
    let slice = bytes[offset..<offset + count]
    guard let text = String(validating: slice, as: UTF8.self) else {
      throw StateBytesError("byte \(offset): string of \(count) bytes is not valid UTF-8")
    }
    offset += count
    return text
  }

  /// A count of items each at least `minimumSize` bytes, checked against the bytes left.
  mutating func readCount(minimumSize: Int) throws(StateBytesError) -> Int {
    let count = Int(try read(UInt32.self))
    guard count <= (bytes.count - offset) / max(1, minimumSize) else {
      throw StateBytesError(
        "byte \(offset - 4): \(count) items cannot fit in the \(bytes.count - offset) bytes left")
    }
    return count
  }

  private func truncated(_ wanted: Int) -> StateBytesError {
    StateBytesError(
      "truncated at byte \(offset): \(wanted) more bytes wanted, \(bytes.count - offset) left")
  }
}
