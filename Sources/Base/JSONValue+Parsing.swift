/// A strict JSON parser (RFC 8259) over UTF-8 bytes, for headers and manifests from disk.
///
/// It refuses duplicate keys, lone surrogates, invalid UTF-8 and nesting deeper than
/// `maximumDepth`, and reports the byte offset of the first problem. It never traps.
extension JSONValue {
  /// How deep arrays and objects may nest before the input is refused.
  public static let maximumDepth = 64

  /// Why a JSON text was refused: what, and at which byte offset.
  public struct ParseError: Error, Equatable, Sendable {
    /// What was wrong.
    public var message: String
    /// The byte offset of the problem.
    public var offset: Int

    /// Creates an error saying what was wrong at which byte offset.
    public init(message: String, offset: Int) {
      self.message = message
      self.offset = offset
    }
  }

  /// Parses `bytes` as one JSON value surrounded by optional whitespace.
  ///
  /// - Throws: `ParseError` saying what was wrong at which byte offset.
  public static func parse(_ bytes: [UInt8]) throws(ParseError) -> JSONValue {
    let result = bytes.withUnsafeBufferPointer { buffer -> Result<JSONValue, ParseError> in
      var parser = Parser(scanner: JSONScanner(bytes: buffer))
      do throws(ParseError) {
        parser.scanner.skipWhitespace()
        let value = try parser.parseValue(depth: 0)
        parser.scanner.skipWhitespace()
        guard parser.scanner.isAtEnd else {
          throw parser.fail("unexpected text after the JSON value")
        }
        return .success(value)
      } catch {
        return .failure(error)
      }
    }
    return try result.get()
  }

  private struct Parser {
    var scanner: JSONScanner

    func fail(_ message: String) -> ParseError {
      ParseError(message: message, offset: scanner.index)
    }

    mutating func expect(_ literal: StaticString, _ value: JSONValue) throws(ParseError)
      -> JSONValue
    {
      // Byte by byte, so that the offset is that of the first byte that differs.
      let pointer = literal.utf8Start
      for offset in 0..<literal.utf8CodeUnitCount {
        guard scanner.peek() == pointer[offset], !scanner.isAtEnd else {
          throw fail("invalid literal, expected '\(literal)'")
        }
        scanner.index += 1
      }
      return value
    }

    mutating func parseValue(depth: Int) throws(ParseError) -> JSONValue {
      guard !scanner.isAtEnd else { throw fail("unexpected end of JSON text") }
      let byte = scanner.peek()
      switch byte {
      case UInt8(ascii: "{"): return try parseObject(depth: depth + 1)
      case UInt8(ascii: "["): return try parseArray(depth: depth + 1)
      case UInt8(ascii: "\""): return .string(try parseString())
      case UInt8(ascii: "t"): return try expect("true", .bool(true))
      case UInt8(ascii: "f"): return try expect("false", .bool(false))
      case UInt8(ascii: "n"): return try expect("null", .null)
      case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try parseNumber()
      default: throw fail("unexpected character \(describe(byte))")
      }
    }

    mutating func enter(depth: Int) throws(ParseError) {
      do throws(JSONScanner.Fault) {
        try scanner.checkDepth(depth, limit: JSONValue.maximumDepth)
      } catch {
        throw ParseError(error)
      }
      scanner.index += 1
      scanner.skipWhitespace()
    }

    mutating func parseObject(depth: Int) throws(ParseError) -> JSONValue {
      try enter(depth: depth)
      var members: [(key: String, value: JSONValue)] = []
      var seen = Set<String>()
      if scanner.peek() == UInt8(ascii: "}") {
        scanner.index += 1
        return .object(members)
      }
      while true {
        scanner.skipWhitespace()
        guard scanner.peek() == UInt8(ascii: "\"") else {
          throw fail("expected a string key in object")
        }
        let keyOffset = scanner.index
        let key = try parseString()
        guard seen.insert(key).inserted else {
          throw ParseError(message: "duplicate key \(JSONText.quote(key))", offset: keyOffset)
        }
        scanner.skipWhitespace()
        guard scanner.peek() == UInt8(ascii: ":") else {
          throw fail("expected ':' after key \(JSONText.quote(key))")
        }
        scanner.index += 1
        scanner.skipWhitespace()
        members.append((key, try parseValue(depth: depth)))
        scanner.skipWhitespace()
        guard !scanner.isAtEnd else { throw fail("unterminated object") }
        switch scanner.peek() {
        case UInt8(ascii: ","): scanner.index += 1
        case UInt8(ascii: "}"):
          scanner.index += 1
          return .object(members)
        default: throw fail("expected ',' or '}' in object")
        }
      }
    }

    mutating func parseArray(depth: Int) throws(ParseError) -> JSONValue {
      try enter(depth: depth)
      var elements: [JSONValue] = []
      if scanner.peek() == UInt8(ascii: "]") {
        scanner.index += 1
        return .array(elements)
      }
      while true {
        scanner.skipWhitespace()
        elements.append(try parseValue(depth: depth))
        scanner.skipWhitespace()
        guard !scanner.isAtEnd else { throw fail("unterminated array") }
        switch scanner.peek() {
        case UInt8(ascii: ","): scanner.index += 1
        case UInt8(ascii: "]"):
          scanner.index += 1
          return .array(elements)
        default: throw fail("expected ',' or ']' in array")
        }
      }
    }

    mutating func parseNumber() throws(ParseError) -> JSONValue {
      let start = scanner.index
      do throws(JSONScanner.Fault) { _ = try scanner.scanNumber() } catch {
        throw ParseError(error)
      }
      // The scanner ends a number at a leading zero; a digit right after it is that zero's.
      if JSONScanner.isDigit(scanner.peek()) { throw fail("leading zero in number") }
      return .number(scanner.text(start..<scanner.index))
    }

    /// Reads the string at the scanner; faults are reported in byte order, as a parser reading
    /// one byte at a time finds them.
    mutating func parseString() throws(ParseError) -> String {
      let start = scanner.index + 1
      let token: JSONScanner.StringToken
      do throws(JSONScanner.Fault) {
        token = try scanner.scanString()
      } catch {
        // A fault in the text before the one that ended the scan comes first.
        let before = JSONScanner.StringToken(
          contents: start..<error.offset, hasEscape: true, isASCII: false)
        do throws(JSONScanner.Fault) { _ = try scanner.decodeString(before) } catch {
          throw ParseError(error)
        }
        throw ParseError(error)
      }
      do throws(JSONScanner.Fault) { return try scanner.decodeString(token) } catch {
        throw ParseError(error)
      }
    }

    func describe(_ byte: UInt8) -> String {
      ParseError.describe(byte)
    }
  }
}

extension JSONValue.ParseError {
  /// The error for a scanner's fault, in the parser's words.
  init(_ fault: JSONScanner.Fault) {
    let message: String
    switch fault.kind {
    case .controlCharacter(let byte):
      message = "control character \(byte) inside a string; escape it"
    case .unterminatedString: message = "unterminated string"
    case .unterminatedEscape: message = "unterminated escape"
    case .invalidEscape(let byte): message = "invalid escape \\\(Self.describe(byte))"
    case .truncatedUnicodeEscape: message = "truncated \\u escape"
    case .invalidHexDigit: message = "invalid hex digit in \\u escape"
    case .loneHighSurrogate: message = "lone high surrogate in \\u escape"
    case .missingLowSurrogate: message = "high surrogate not followed by a low surrogate"
    case .loneLowSurrogate: message = "lone low surrogate"
    case .invalidUTF8(.leadByte(let byte)): message = "invalid UTF-8 lead byte \(byte)"
    case .invalidUTF8(.truncated): message = "truncated UTF-8 sequence"
    case .invalidUTF8(.continuationByte(let byte)):
      message = "invalid UTF-8 continuation byte \(byte)"
    case .invalidUTF8(.invalidSequence):
      message = "invalid UTF-8 sequence (overlong, surrogate or out of range)"
    case .expectedDigit: message = "expected a digit in number"
    case .expectedFractionDigit: message = "expected a digit after '.'"
    case .expectedExponentDigit: message = "expected a digit in exponent"
    case .tooDeep: message = "nesting deeper than \(JSONValue.maximumDepth) levels"
    }
    self.init(message: message, offset: fault.offset)
  }

  /// A byte as quoted text when printable ASCII, else as its number.
  static func describe(_ byte: UInt8) -> String {
    byte >= 0x20 && byte < 0x7F ? "'\(Character(Unicode.Scalar(byte)))'" : "byte \(byte)"
  }
}
