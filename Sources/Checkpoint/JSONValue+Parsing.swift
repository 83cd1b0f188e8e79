/// A strict JSON parser (RFC 8259) over UTF-8 bytes, for headers and manifests from disk.
///
/// It refuses duplicate keys, lone surrogates, invalid UTF-8 and nesting deeper than
/// `maximumDepth`, and reports the byte offset of the first problem. It never traps.
extension JSONValue {
  /// How deep arrays and objects may nest before the input is refused.
  static let maximumDepth = 64

  /// Why a JSON text was refused: what, and at which byte offset.
  struct ParseError: Error, Equatable {
    var message: String
    var offset: Int
  }

  /// Parses `bytes` as one JSON value surrounded by optional whitespace.
  static func parse(_ bytes: [UInt8]) throws(ParseError) -> JSONValue {
    var parser = Parser(bytes: bytes)
    parser.skipWhitespace()
    let value = try parser.parseValue(depth: 0)
    parser.skipWhitespace()
    guard parser.position == bytes.count else {
      throw ParseError(message: "unexpected text after the JSON value", offset: parser.position)
    }
    return value
  }

  private struct Parser {
    let bytes: [UInt8]
    var position = 0

    init(bytes: [UInt8]) { self.bytes = bytes }

    mutating func skipWhitespace() {
      while position < bytes.count,
        bytes[position] == 0x20 || bytes[position] == 0x0A || bytes[position] == 0x0D
          || bytes[position] == 0x09
      {
        position += 1
      }
    }

    func fail(_ message: String) -> ParseError {
      ParseError(message: message, offset: position)
    }

    mutating func expect(_ literal: String, _ value: JSONValue) throws(ParseError) -> JSONValue {
      for byte in literal.utf8 {
        guard position < bytes.count, bytes[position] == byte else {
          throw fail("invalid literal, expected '\(literal)'")
        }
        position += 1
      }
      return value
    }

    mutating func parseValue(depth: Int) throws(ParseError) -> JSONValue {
      guard position < bytes.count else { throw fail("unexpected end of JSON text") }
      switch bytes[position] {
      case UInt8(ascii: "{"): return try parseObject(depth: depth + 1)
      case UInt8(ascii: "["): return try parseArray(depth: depth + 1)
      case UInt8(ascii: "\""): return .string(try parseString())
      case UInt8(ascii: "t"): return try expect("true", .bool(true))
      case UInt8(ascii: "f"): return try expect("false", .bool(false))
      case UInt8(ascii: "n"): return try expect("null", .null)
      case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try parseNumber()
      default: throw fail("unexpected character \(describe(bytes[position]))")
      }
    }

    func describe(_ byte: UInt8) -> String {
      byte >= 0x20 && byte < 0x7F ? "'\(Character(Unicode.Scalar(byte)))'" : "byte \(byte)"
    }

    mutating func parseObject(depth: Int) throws(ParseError) -> JSONValue {
      guard depth <= JSONValue.maximumDepth else {
        throw fail("nesting deeper than \(JSONValue.maximumDepth) levels")
      }
      position += 1
      var members: [(key: String, value: JSONValue)] = []
      var seen = Set<String>()
      skipWhitespace()
      if position < bytes.count, bytes[position] == UInt8(ascii: "}") {
        position += 1
        return .object(members)
      }
      while true {
        skipWhitespace()
        guard position < bytes.count, bytes[position] == UInt8(ascii: "\"") else {
          throw fail("expected a string key in object")
        }
        let keyOffset = position
        let key = try parseString()
        guard seen.insert(key).inserted else {
          throw ParseError(message: "duplicate key \(JSONValue.quoted(key))", offset: keyOffset)
        }
        skipWhitespace()
        guard position < bytes.count, bytes[position] == UInt8(ascii: ":") else {
          throw fail("expected ':' after key \(JSONValue.quoted(key))")
        }
        position += 1
        skipWhitespace()
        members.append((key, try parseValue(depth: depth)))
        skipWhitespace()
        guard position < bytes.count else { throw fail("unterminated object") }
        if bytes[position] == UInt8(ascii: ",") {
          position += 1
        } else if bytes[position] == UInt8(ascii: "}") {
          position += 1
          return .object(members)
        } else {
          throw fail("expected ',' or '}' in object")
        }
      }
    }

    mutating func parseArray(depth: Int) throws(ParseError) -> JSONValue {
      guard depth <= JSONValue.maximumDepth else {
        throw fail("nesting deeper than \(JSONValue.maximumDepth) levels")
      }
      position += 1
      var elements: [JSONValue] = []
      skipWhitespace()
      if position < bytes.count, bytes[position] == UInt8(ascii: "]") {
        position += 1
        return .array(elements)
      }
      while true {
        skipWhitespace()
        elements.append(try parseValue(depth: depth))
        skipWhitespace()
        guard position < bytes.count else { throw fail("unterminated array") }
        if bytes[position] == UInt8(ascii: ",") {
          position += 1
        } else if bytes[position] == UInt8(ascii: "]") {
          position += 1
          return .array(elements)
        } else {
          throw fail("expected ',' or ']' in array")
        }
      }
    }

    mutating func parseNumber() throws(ParseError) -> JSONValue {
      let start = position
      func isDigit(_ index: Int) -> Bool {
        index < bytes.count && bytes[index] >= UInt8(ascii: "0")
          && bytes[index] <= UInt8(ascii: "9")
      }
      if bytes[position] == UInt8(ascii: "-") { position += 1 }
      guard isDigit(position) else { throw fail("expected a digit in number") }
      if bytes[position] == UInt8(ascii: "0") {
        position += 1
        if isDigit(position) { throw fail("leading zero in number") }
      } else {
        while isDigit(position) { position += 1 }
      }
      if position < bytes.count, bytes[position] == UInt8(ascii: ".") {
        position += 1
        guard isDigit(position) else { throw fail("expected a digit after '.'") }
        while isDigit(position) { position += 1 }
      }
      if position < bytes.count,
        bytes[position] == UInt8(ascii: "e") || bytes[position] == UInt8(ascii: "E")
      {
        position += 1
        if position < bytes.count,
          bytes[position] == UInt8(ascii: "+") || bytes[position] == UInt8(ascii: "-")
        {
          position += 1
        }
        guard isDigit(position) else { throw fail("expected a digit in exponent") }
        while isDigit(position) { position += 1 }
      }
      return .number(String(decoding: bytes[start..<position], as: UTF8.self))
    }

    mutating func parseString() throws(ParseError) -> String {
      position += 1
      var scalars = String.UnicodeScalarView()
      while true {
        guard position < bytes.count else { throw fail("unterminated string") }
        let byte = bytes[position]
        switch byte {
        case UInt8(ascii: "\""):
          position += 1
          return String(scalars)
        case UInt8(ascii: "\\"):
          position += 1
          scalars.append(try parseEscape())
        case 0..<0x20:
          throw fail("control character \(byte) inside a string; escape it")
        case 0..<0x80:
          scalars.append(Unicode.Scalar(byte))
          position += 1
        default:
          scalars.append(try parseUTF8Scalar())
        }
      }
    }

    mutating func parseEscape() throws(ParseError) -> Unicode.Scalar {
      guard position < bytes.count else { throw fail("unterminated escape") }
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
        let high = try parseHex4()
        if (0xD800..<0xDC00).contains(high) {
          guard position + 1 < bytes.count, bytes[position] == UInt8(ascii: "\\"),
            bytes[position + 1] == UInt8(ascii: "u")
          else { throw fail("lone high surrogate in \\u escape") }
          position += 2
          let low = try parseHex4()
          guard (0xDC00..<0xE000).contains(low) else {
            throw fail("high surrogate not followed by a low surrogate")
          }
          let value = 0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00)
          guard let scalar = Unicode.Scalar(value) else { throw fail("invalid surrogate pair") }
          return scalar
        }
        guard let scalar = Unicode.Scalar(high) else { throw fail("lone low surrogate") }
        return scalar
      default:
        position -= 1
        throw fail("invalid escape \\\(describe(byte))")
      }
    }

    mutating func parseHex4() throws(ParseError) -> UInt32 {
      guard position + 4 <= bytes.count else { throw fail("truncated \\u escape") }
      var value: UInt32 = 0
      for _ in 0..<4 {
        let byte = bytes[position]
        let digit: UInt32
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = UInt32(byte - UInt8(ascii: "0"))
        case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = UInt32(byte - UInt8(ascii: "a") + 10)
        case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = UInt32(byte - UInt8(ascii: "A") + 10)
        default: throw fail("invalid hex digit in \\u escape")
        }
        value = value << 4 | digit
        position += 1
      }
      return value
    }

    /// Decodes one multi-byte UTF-8 sequence, refusing overlong forms and surrogates.
    mutating func parseUTF8Scalar() throws(ParseError) -> Unicode.Scalar {
      let lead = bytes[position]
      let length: Int
      var value: UInt32
      switch lead {
      case 0xC2...0xDF: (length, value) = (2, UInt32(lead & 0x1F))
      case 0xE0...0xEF: (length, value) = (3, UInt32(lead & 0x0F))
      case 0xF0...0xF4: (length, value) = (4, UInt32(lead & 0x07))
      default: throw fail("invalid UTF-8 lead byte \(lead)")
      }
      guard position + length <= bytes.count else { throw fail("truncated UTF-8 sequence") }
      for index in 1..<length {
        let byte = bytes[position + index]
        guard byte & 0xC0 == 0x80 else { throw fail("invalid UTF-8 continuation byte \(byte)") }
        value = value << 6 | UInt32(byte & 0x3F)
      }
      let minimum: UInt32 = length == 2 ? 0x80 : length == 3 ? 0x800 : 0x10000
      guard value >= minimum, let scalar = Unicode.Scalar(value) else {
        throw fail("invalid UTF-8 sequence (overlong, surrogate or out of range)")
      }
      position += length
      return scalar
    }
  }
}
