/// Appends little-endian integers and length-prefixed UTF-8 strings to a byte array; `ByteReader`
/// reads them back.
public struct ByteWriter: Sendable {
  /// The bytes written so far.
  public private(set) var bytes: [UInt8] = []

  /// Creates an empty writer.
  public init() {}

  /// Creates an empty writer whose buffer holds `capacity` bytes before it grows (a writer
  /// that knows its size grows its buffer once, not by doubling and copying).
  public init(capacity: Int) { bytes.reserveCapacity(capacity) }

  /// The bytes `append(_:)` writes for `text`: its `u32` count and its UTF-8 bytes.
  public static func size(of text: String) -> Int { 4 + text.utf8.count }

  /// How many bytes are written so far.
  public var count: Int { bytes.count }

  /// Appends one byte.
  public mutating func append(_ value: UInt8) { bytes.append(value) }

  /// Appends bytes as they are (bytes another writer wrote).
  public mutating func append(contentsOf written: ArraySlice<UInt8>) {
    bytes.append(contentsOf: written)
  }

  /// Appends a fixed-width integer, little-endian.
  public mutating func append<Value: FixedWidthInteger>(_ value: Value) {
    withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
  }

  /// Appends a boolean as one byte, 1 or 0.
  public mutating func append(_ value: Bool) { bytes.append(value ? 1 : 0) }

  /// Appends a string: a `u32` byte count and its UTF-8 bytes.
  public mutating func append(_ text: String) {
    var text = text
    text.withUTF8 { utf8 in
      append(UInt32(utf8.count))
      bytes.append(contentsOf: utf8)  // one copy, not a byte at a time through the view
    }
  }

  /// Appends a double as the `u64` of its bit pattern.
  public mutating func append(_ value: Double) { append(value.bitPattern) }

  /// Appends a count of items as a `u32`.
  public mutating func appendCount(_ count: Int) { append(UInt32(count)) }

  /// Appends an unsigned integer as a LEB128 varint: seven bits a byte, lowest first, the high
  /// bit set on every byte but the last (1 byte below 128, at most 10).
  public mutating func appendVarint(_ value: UInt64) {
    var rest = value
    while rest >= 0x80 {
      bytes.append(UInt8(truncatingIfNeeded: rest) | 0x80)
      rest >>= 7
    }
    bytes.append(UInt8(rest))
  }

  /// Appends a string: its byte count as a varint, then its UTF-8 bytes (one byte of length
  /// for strings below 128 bytes, against four for `append(_: String)`).
  public mutating func appendShortString(_ text: String) {
    var text = text
    text.withUTF8 { utf8 in
      appendVarint(UInt64(utf8.count))
      bytes.append(contentsOf: utf8)
    }
  }

  /// The bytes `appendVarint(_:)` writes for `value`.
  public static func varintSize(of value: UInt64) -> Int {
    max(1, (64 - value.leadingZeroBitCount + 6) / 7)
  }

  /// The bytes `appendShortString(_:)` writes for `text`.
  public static func shortStringSize(of text: String) -> Int {
    let count = text.utf8.count
    return varintSize(of: UInt64(count)) + count
  }
}
