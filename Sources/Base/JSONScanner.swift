/// The lexical layer of strict JSON (RFC 8259) over UTF-8 bytes: whitespace, literals, numbers,
/// strings with escapes and surrogate pairs, and the nesting bound. Parsers build on it (the
/// event parser reading only what a schema names, `JSONValue.parse` reading everything) and turn
/// its `Fault`s into their own errors. It never traps on input.
///
/// A string is read in two steps: `scanString()` finds its end (refusing control characters and
/// a missing closing quote), `decodeString(_:deferringUTF8Faults:)` checks and decodes its text,
/// with a fast path for plain ASCII.
public struct JSONScanner {
  /// The bytes scanned; they must outlive the scanner.
  public let bytes: UnsafeBufferPointer<UInt8>
  /// The offset of the next byte to read.
  public var index = 0

  /// Creates a scanner at the first of `bytes`.
  @inlinable
  public init(bytes: UnsafeBufferPointer<UInt8>) { self.bytes = bytes }

  /// Whether every byte was read.
  @inlinable
  public var isAtEnd: Bool { index >= bytes.count }

  /// The byte at `index`, or 0 (never valid outside a string) at the end.
  @inlinable @inline(__always)
  public func peek() -> UInt8 { index < bytes.count ? bytes[index] : 0 }

  /// Whether `byte` is an ASCII digit.
  @inlinable @inline(__always)
  public static func isDigit(_ byte: UInt8) -> Bool {
    byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")
  }

  /// Whether the bytes at `index` spell `literal`.
  @inlinable
  public func peekLiteral(_ literal: StaticString) -> Bool {
    let count = literal.utf8CodeUnitCount
    guard index + count <= bytes.count else { return false }
    let pointer = literal.utf8Start
    for offset in 0..<count where bytes[index + offset] != pointer[offset] { return false }
    return true
  }

  /// Moves past spaces, tabs, line feeds and carriage returns.
  @inlinable
  public mutating func skipWhitespace() {
    while index < bytes.count {
      switch bytes[index] {
      case 0x20, 0x0A, 0x0D, 0x09: index += 1
      default: return
      }
    }
  }

  /// Throws `tooDeep` unless `depth` is within `limit`: parsers call it on entering an array or
  /// object, so that recursion stays bounded.
  ///
  /// - Throws: `Fault` `tooDeep` at `index`.
  @inlinable
  public func checkDepth(_ depth: Int, limit: Int) throws(Fault) {
    if depth > limit { throw Fault(.tooDeep, offset: index) }
  }

  // MARK: - Numbers

  /// Scans a number at `index` (which holds `-` or a digit); returns whether it has neither
  /// fraction nor exponent. A leading zero ends the integer part (`01` scans as `0`); the parser
  /// decides what the byte after it means.
  ///
  /// - Throws: `Fault` `expectedDigit`, `expectedFractionDigit` or `expectedExponentDigit` at
  ///   the byte where a digit was missing.
  @inlinable
  public mutating func scanNumber() throws(Fault) -> Bool {
    if peek() == UInt8(ascii: "-") { index += 1 }
    let first = peek()
    guard Self.isDigit(first) else { throw Fault(.expectedDigit, offset: index) }
    index += 1
    if first != UInt8(ascii: "0") {
      while Self.isDigit(peek()) { index += 1 }
    }
    var isInteger = true
    if peek() == UInt8(ascii: ".") {
      isInteger = false
      index += 1
      guard Self.isDigit(peek()) else { throw Fault(.expectedFractionDigit, offset: index) }
      while Self.isDigit(peek()) { index += 1 }
    }
    if peek() == UInt8(ascii: "e") || peek() == UInt8(ascii: "E") {
      isInteger = false
      index += 1
      if peek() == UInt8(ascii: "+") || peek() == UInt8(ascii: "-") { index += 1 }
      guard Self.isDigit(peek()) else { throw Fault(.expectedExponentDigit, offset: index) }
      while Self.isDigit(peek()) { index += 1 }
    }
    return isInteger
  }

  /// The value of the integer token in `range` (an optional `-` and digits), or `nil` if it
  /// does not fit in `Int64`.
  @inlinable
  public func integer(_ range: Range<Int>) -> Int64? {
    var position = range.lowerBound
    let isNegative = bytes[position] == UInt8(ascii: "-")
    if isNegative { position += 1 }
    var value: Int64 = 0
    while position < range.upperBound {
      let digit = Int64(bytes[position] &- UInt8(ascii: "0"))
      let (times, overflow1) = value.multipliedReportingOverflow(by: 10)
      let (sum, overflow2) = times.addingReportingOverflow(digit)
      if overflow1 || overflow2 { return nil }
      value = sum
      position += 1
    }
    return isNegative ? -value : value
  }

  /// The text of the bytes in `range`, which the scanner found to be ASCII (a number token).
  @inlinable
  public func text(_ range: Range<Int>) -> String {
    String(decoding: UnsafeBufferPointer(rebasing: bytes[range]), as: UTF8.self)
  }

  // MARK: - Strings

  /// Where a string's text lies and what decoding it needs.
  public struct StringToken: Sendable {
    /// The offsets of the bytes between the quotes.
    public var contents: Range<Int>
    /// Whether the text holds a backslash escape.
    public var hasEscape: Bool
    /// Whether every byte of the text is ASCII.
    public var isASCII: Bool

    /// Describes a string's text.
    @inlinable
    public init(contents: Range<Int>, hasEscape: Bool, isASCII: Bool) {
      self.contents = contents
      self.hasEscape = hasEscape
      self.isASCII = isASCII
    }
  }

  /// Finds the end of the string whose `"` is at `index` and moves past its closing quote.
  ///
  /// - Throws: `Fault` `controlCharacter` at an unescaped byte below 0x20, or
  ///   `unterminatedString` at the end of the bytes.
  @inlinable
  public mutating func scanString() throws(Fault) -> StringToken {
    index += 1
    let start = index
    var hasEscape = false
    var isASCII = true
    while index < bytes.count {
      let byte = bytes[index]
      if byte == UInt8(ascii: "\"") {
        let end = index
        index += 1
        return StringToken(contents: start..<end, hasEscape: hasEscape, isASCII: isASCII)
      }
      if byte == UInt8(ascii: "\\") {
        hasEscape = true
        index += 2
        continue
      }
      if byte < 0x20 { throw Fault(.controlCharacter(byte), offset: index) }
      if byte >= 0x80 { isASCII = false }
      index += 1
    }
    index = bytes.count
    throw Fault(.unterminatedString, offset: bytes.count)
  }

  /// The text of a scanned string: escapes decoded, UTF-8 checked.
  ///
  /// Faults are reported in byte order; with `deferringUTF8Faults`, an escape fault anywhere
  /// wins over invalid UTF-8, which is reported only when the escapes are all valid.
  ///
  /// - Throws: `Fault` for an invalid escape, a lone or unpaired surrogate, or invalid UTF-8.
  @inlinable
  public func decodeString(
    _ token: StringToken, deferringUTF8Faults: Bool = false
  ) throws(Fault) -> String {
    let raw = UnsafeBufferPointer(rebasing: bytes[token.contents])
    if !token.hasEscape {
      if token.isASCII { return String(decoding: raw, as: UTF8.self) }
      if let text = String(validating: raw, as: UTF8.self) { return text }
    }
    return try decodeSlowly(token.contents, deferringUTF8Faults: deferringUTF8Faults)
  }

  /// Decodes `contents` byte by byte, reading past its end where an escape or a UTF-8 sequence
  /// runs on (as a byte-at-a-time parser would), so that each fault names the byte it is at.
  ///
  /// - Throws: `Fault` for the first invalid escape, surrogate or UTF-8 sequence.
  @usableFromInline
  func decodeSlowly(_ contents: Range<Int>, deferringUTF8Faults: Bool) throws(Fault) -> String {
    var out: [UInt8] = []
    out.reserveCapacity(contents.count)
    var position = contents.lowerBound
    var deferred: Fault?
    while position < contents.upperBound {
      let byte = bytes[position]
      if byte == UInt8(ascii: "\\") {
        position += 1
        let scalar = try unescape(at: &position)
        UTF8.encode(scalar) { out.append($0) }
      } else if byte < 0x80 {
        out.append(byte)
        position += 1
      } else {
        switch utf8Sequence(at: position) {
        case .success(let length):
          out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[position..<position + length]))
          position += length
        case .failure(let fault):
          guard deferringUTF8Faults else { throw fault }
          if deferred == nil { deferred = fault }
          position += 1
        }
      }
    }
    if let deferred { throw deferred }
    return String(decoding: out, as: UTF8.self)
  }

  /// Decodes the escape whose backslash is just before `position` and moves past it.
  @usableFromInline
  func unescape(at position: inout Int) throws(Fault) -> Unicode.Scalar {
    guard position < bytes.count else { throw Fault(.unterminatedEscape, offset: position) }
    let byte = bytes[position]
    position += 1
    switch byte {
    case UInt8(ascii: "\""): return "\""
    case UInt8(ascii: "\\"): return "\\"
    case UInt8(ascii: "/"): return "/"
    case UInt8(ascii: "b"): return "\u{08}"
    case UInt8(ascii: "f"): return "\u{0C}"
    case UInt8(ascii: "n"): return "\n"
    case UInt8(ascii: "r"): return "\r"
    case UInt8(ascii: "t"): return "\t"
    case UInt8(ascii: "u"):
      let high = try hex4(at: &position, surrogateOffset: nil)
      if (0xD800..<0xDC00).contains(high) {
        let highEnd = position
        guard position + 1 < bytes.count, bytes[position] == UInt8(ascii: "\\"),
          bytes[position + 1] == UInt8(ascii: "u")
        else { throw Fault(.loneHighSurrogate, offset: position, surrogateOffset: highEnd) }
        position += 2
        let low = try hex4(at: &position, surrogateOffset: highEnd)
        guard (0xDC00..<0xE000).contains(low) else {
          throw Fault(.missingLowSurrogate, offset: position, surrogateOffset: highEnd)
        }
        let value = 0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00)
        guard let scalar = Unicode.Scalar(value) else {
          throw Fault(.missingLowSurrogate, offset: position, surrogateOffset: highEnd)
        }
        return scalar
      }
      guard let scalar = Unicode.Scalar(high) else {
        throw Fault(.loneLowSurrogate, offset: position)
      }
      return scalar
    default:
      throw Fault(.invalidEscape(byte), offset: position - 1)
    }
  }

  /// Reads the four hex digits of a `\u` escape at `position`.
  @usableFromInline
  func hex4(at position: inout Int, surrogateOffset: Int?) throws(Fault) -> UInt32 {
    let escape = position
    guard position + 4 <= bytes.count else {
      throw Fault(
        .truncatedUnicodeEscape, offset: position, escapeOffset: escape,
        surrogateOffset: surrogateOffset)
    }
    var value: UInt32 = 0
    for _ in 0..<4 {
      let byte = bytes[position]
      let digit: UInt32
      switch byte {
      case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = UInt32(byte - UInt8(ascii: "0"))
      case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = UInt32(byte - UInt8(ascii: "a") + 10)
      case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = UInt32(byte - UInt8(ascii: "A") + 10)
      default:
        throw Fault(
          .invalidHexDigit, offset: position, escapeOffset: escape,
          surrogateOffset: surrogateOffset)
      }
      value = value << 4 | digit
      position += 1
    }
    return value
  }

  /// The length of the valid multi-byte UTF-8 sequence at `position` (overlong forms,
  /// surrogates and values past U+10FFFF refused), or the fault at its lead byte.
  @usableFromInline
  func utf8Sequence(at position: Int) -> Result<Int, Fault> {
    let lead = bytes[position]
    let length: Int
    var value: UInt32
    switch lead {
    case 0xC2...0xDF: (length, value) = (2, UInt32(lead & 0x1F))
    case 0xE0...0xEF: (length, value) = (3, UInt32(lead & 0x0F))
    case 0xF0...0xF4: (length, value) = (4, UInt32(lead & 0x07))
    default: return .failure(Fault(.invalidUTF8(.leadByte(lead)), offset: position))
    }
    guard position + length <= bytes.count else {
      return .failure(Fault(.invalidUTF8(.truncated), offset: position))
    }
    for index in 1..<length {
      let byte = bytes[position + index]
      guard byte & 0xC0 == 0x80 else {
        return .failure(Fault(.invalidUTF8(.continuationByte(byte)), offset: position))
      }
      value = value << 6 | UInt32(byte & 0x3F)
    }
    let minimum: UInt32 = length == 2 ? 0x80 : length == 3 ? 0x800 : 0x10000
    guard value >= minimum, Unicode.Scalar(value) != nil else {
      return .failure(Fault(.invalidUTF8(.invalidSequence), offset: position))
    }
    return .success(length)
  }
}
