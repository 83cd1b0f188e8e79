import Base
import Testing

@Suite struct JSONScannerTests {
  /// Parses `text` with `JSONValue.parse`, the full parser built on the scanner.
  func parse(_ text: String) -> Result<JSONValue, JSONValue.ParseError> {
    Result { () throws(JSONValue.ParseError) in try JSONValue.parse(Array(text.utf8)) }
  }

  func refusal(_ bytes: [UInt8]) -> JSONValue.ParseError? {
    if case .failure(let error) = Result(catching: { () throws(JSONValue.ParseError) in
      try JSONValue.parse(bytes)
    }) {
      return error
    }
    return nil
  }

  func refusal(_ text: String) -> JSONValue.ParseError? { refusal(Array(text.utf8)) }

  @Test func readsValidDocuments() throws {
    let value = try parse(
      #" {"a": [1, -0.5e+3, true, false, null], "b": "x\ty\u00e9\ud83c\udf88"} "#
    )
    .get()
    #expect(
      value["a"] == .array([.number("1"), .number("-0.5e+3"), .bool(true), .bool(false), .null]))
    #expect(value["b"] == .string("x\tyé🎈"))
    #expect(try parse("[]").get() == .array([]))
    #expect(try parse("{}").get() == .object([]))
    #expect(try parse(#""\"\\\/\b\f\n\r\t""#).get() == .string("\"\\/\u{8}\u{C}\n\r\t"))
    #expect(try parse("0").get() == .number("0"))
    #expect(try parse("\"🎈é\"").get() == .string("🎈é"))
  }

  @Test func refusesInvalidDocumentsSayingWhatAndWhere() {
    let cases: [(String, String, Int)] = [
      ("", "unexpected end of JSON text", 0),
      ("[1,]", "unexpected character ']'", 3),
      ("[1 2]", "expected ',' or ']' in array", 3),
      (#"{"a" 1}"#, "expected ':' after key \"a\"", 5),
      (#"{"a":1,"a":2}"#, "duplicate key \"a\"", 7),
      ("01", "leading zero in number", 1),
      ("-x", "expected a digit in number", 1),
      ("1.", "expected a digit after '.'", 2),
      ("1e+", "expected a digit in exponent", 3),
      ("tru", "invalid literal, expected 'true'", 3),
      ("NaN", "unexpected character 'N'", 0),
      ("\"ab", "unterminated string", 3),
      ("\"a\u{1}\"", "control character 1 inside a string; escape it", 2),
      (#""\x""#, "invalid escape \\'x'", 2),
      (#"["\u12"]"#, "invalid hex digit in \\u escape", 6),
      (#""\u12"#, "truncated \\u escape", 3),
      (#""\ud800""#, "lone high surrogate in \\u escape", 7),
      (#""\ud800\u0041""#, "high surrogate not followed by a low surrogate", 13),
      (#""\udc00""#, "lone low surrogate", 7),
      ("[1] x", "unexpected text after the JSON value", 4),
      (String(repeating: "[", count: 65), "nesting deeper than 64 levels", 64),
    ]
    for (text, message, offset) in cases {
      #expect(refusal(text) == .init(message: message, offset: offset), "\(text)")
    }
  }

  @Test func refusesInvalidUTF8AtItsLeadByte() {
    let quote = UInt8(ascii: "\"")
    #expect(refusal([quote, 0x61, 0xFF, quote])?.message == "invalid UTF-8 lead byte 255")
    #expect(refusal([quote, 0x61, 0xFF, quote])?.offset == 2)
    #expect(refusal([quote, 0xC3]) == .init(message: "truncated UTF-8 sequence", offset: 1))
    #expect(
      refusal([quote, 0xC3, quote])
        == .init(message: "invalid UTF-8 continuation byte 34", offset: 1))
    #expect(
      refusal([quote, 0xE0, 0x80, 0x80, quote])?.message
        == "invalid UTF-8 sequence (overlong, surrogate or out of range)")
    #expect(refusal([quote, 0xED, 0xA0, 0x80, quote])?.offset == 1)
  }

  @Test func reportsTheFirstFaultInByteOrder() {
    // Invalid UTF-8 before a control character, and an escape before the missing quote.
    #expect(refusal([0x22, 0xFF, 0x01, 0x22])?.message == "invalid UTF-8 lead byte 255")
    #expect(refusal(#""\q"#)?.message == "invalid escape \\'q'")
    #expect(refusal(#""a\"#)?.message == "unterminated escape")
  }

  @Test func scansNumbersAndStringsDirectly() throws {
    let bytes = Array(#"-12.5e3 "a\nb" 7"#.utf8)
    try bytes.withUnsafeBufferPointer { buffer in
      var scanner = JSONScanner(bytes: buffer)
      #expect(try scanner.scanNumber() == false)
      #expect(scanner.text(0..<scanner.index) == "-12.5e3")
      scanner.skipWhitespace()
      let token = try scanner.scanString()
      #expect(token.contents == 9..<13 && token.hasEscape && token.isASCII)
      #expect(try scanner.decodeString(token) == "a\nb")
      scanner.skipWhitespace()
      let start = scanner.index
      #expect(try scanner.scanNumber() == true)
      #expect(scanner.integer(start..<scanner.index) == 7)
      #expect(scanner.isAtEnd)
    }
  }

  @Test func defersUTF8FaultsBehindEscapeFaultsWhenAsked() {
    let bytes: [UInt8] = [0x22, 0xFF, 0x5C, 0x71, 0x22]  // "\xFF\q"
    bytes.withUnsafeBufferPointer { buffer in
      var scanner = JSONScanner(bytes: buffer)
      guard let token = try? scanner.scanString() else {
        Issue.record("the string did not scan")
        return
      }
      #expect(throws: JSONScanner.Fault(.invalidUTF8(.leadByte(0xFF)), offset: 1)) {
        try scanner.decodeString(token)
      }
      #expect(throws: JSONScanner.Fault(.invalidEscape(0x71), offset: 3)) {
        try scanner.decodeString(token, deferringUTF8Faults: true)
      }
    }
  }

  @Test func boundsNesting() {
    let bytes: [UInt8] = []
    bytes.withUnsafeBufferPointer { buffer in
      let scanner = JSONScanner(bytes: buffer)
      #expect((try? scanner.checkDepth(3, limit: 3)) != nil)
      #expect(throws: JSONScanner.Fault(.tooDeep, offset: 0)) {
        try scanner.checkDepth(4, limit: 3)
      }
    }
  }
}
