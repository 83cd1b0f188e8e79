/// Reads the little-endian fields of a small binary snapshot encoding (the pending examples and
/// domain names of a trainer snapshot), checking every length against the bytes left so that
/// damaged bytes throw instead of trapping or reserving huge arrays.
struct SnapshotBytesReader {
  /// The encoded bytes.
  let bytes: [UInt8]
  /// What the bytes are, for messages, e.g. "domain 'x': tensor 'x/pending'".
  let source: String
  /// The next byte to read.
  private(set) var offset = 0

  /// Creates a reader at the first byte of `bytes`.
  init(bytes: [UInt8], source: String) {
    self.bytes = bytes
    self.source = source
  }

  /// The error for `problem` at the reader's source.
  func error(_ problem: String) -> LearnerError {
    .invalidModel("\(source): \(problem); the bytes are damaged, restore an earlier snapshot")
  }

  /// The next fixed-width little-endian integer.
  mutating func word<Word: FixedWidthInteger>(_: Word.Type) throws(LearnerError) -> Word {
    let width = MemoryLayout<Word>.size
    guard bytes.count - offset >= width else {
      throw error("truncated at byte \(offset) of \(bytes.count): expected a \(width)-byte field")
    }
    var value: Word = 0
    for index in 0..<width { value |= Word(bytes[offset + index]) << (8 * index) }
    offset += width
    return value
  }

  /// A `u8` flag, 0 or 1.
  mutating func flag() throws(LearnerError) -> Bool {
    let start = offset
    switch try word(UInt8.self) {
    case 0: return false
    case 1: return true
    case let other: throw error("the flag at byte \(start) is \(other), not 0 or 1")
    }
  }

  /// A `u32` count of items taking at least `minimumBytesEach` bytes each.
  mutating func count(minimumBytesEach: Int) throws(LearnerError) -> Int {
    let start = offset
    let count = Int(try word(UInt32.self))
    guard count <= (bytes.count - offset) / max(1, minimumBytesEach) else {
      throw error(
        "count \(count) at byte \(start) needs more than the \(bytes.count - offset) bytes left")
    }
    return count
  }

  /// A string: a `u32` byte count and its UTF-8 bytes.
  mutating func string() throws(LearnerError) -> String {
    let start = offset
    let length = try count(minimumBytesEach: 1)
    guard let text = String(validating: bytes[offset..<(offset + length)], as: UTF8.self) else {
      throw error("the string at byte \(start) is not valid UTF-8")
    }
    offset += length
    return text
  }

  /// Throws unless every byte was read.
  func expectEnd(after what: String) throws(LearnerError) {
    if offset != bytes.count {
      throw error("\(bytes.count - offset) bytes follow \(what)")
    }
  }
}
