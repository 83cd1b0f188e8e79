import Base
import Testing

@Suite struct JSONTextTests {
  @Test func quotesEscapeQuotesBackslashesAndControlCharacters() {
    #expect(JSONText.quote("") == #""""#)
    #expect(JSONText.quote(#"a"b\c"#) == #""a\"b\\c""#)
    #expect(JSONText.quote("\n\r\t") == #""\n\r\t""#)
    #expect(JSONText.quote("\u{0}\u{1}\u{8}\u{C}\u{1F}") == #""\u0000\u0001\u0008\u000c\u001f""#)
    #expect(JSONText.quote("\u{7F}/") == "\"\u{7F}/\"")
  }

  @Test func quotesKeepNonASCIIAsUTF8() {
    #expect(JSONText.quote("é") == "\"é\"")
    #expect(JSONText.quote("🎈𝄞") == "\"🎈𝄞\"")
    #expect(Array(JSONText.quote("🎈").utf8) == [0x22, 0xF0, 0x9F, 0x8E, 0x88, 0x22])
  }

  @Test func numbersAreIntegersWhenWholeAndNullWhenNotFinite() {
    #expect(JSONText.number(3) == "3")
    #expect(JSONText.number(-0.25) == "-0.25")
    #expect(JSONText.number(1e20) == "1e+20")
    #expect(JSONText.number(.nan) == "null")
    #expect(JSONText.number(-.infinity) == "null")
  }

  @Test func valuesWriteCompactTextInStoredOrder() {
    let value = JSONValue.object([
      ("b", .array([.number("1"), .bool(true), .null])), ("a", .string("x\ny")),
    ])
    #expect(value.text == #"{"b":[1,true,null],"a":"x\ny"}"#)
  }

  @Test func prettyTextIndentsTwoSpacesALevel() {
    let value = JSONValue.object([
      ("a", .array([.number("1"), .object([])])), ("b", .array([])), ("c", .string("/")),
    ])
    #expect(
      value.prettyText == """
        {
          "a" : [
            1,
            {

            }
          ],
          "b" : [

          ],
          "c" : "/"
        }
        """)
  }
}
