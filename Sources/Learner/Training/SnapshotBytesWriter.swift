/// Writes the little-endian fields read back by `SnapshotBytesReader`.
struct SnapshotBytesWriter {
  /// The bytes written so far.
  private(set) var bytes: [UInt8] = []

  /// Creates an empty writer.
  init() {}

  /// Appends a fixed-width integer, little-endian.
  mutating func append<Word: FixedWidthInteger>(_ word: Word) {
    withUnsafeBytes(of: word.littleEndian) { bytes.append(contentsOf: $0) }
  }

  /// Appends a string: a `u32` byte count and its UTF-8 bytes.
  mutating func append(_ text: String) {
    append(UInt32(text.utf8.count))
    bytes.append(contentsOf: text.utf8)
  }
}
