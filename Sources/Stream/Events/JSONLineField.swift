import Foundation

/// A minimal scan of one JSON line for a top-level-looking field, without decoding the line.
///
/// For keying records by a field (the region) while producing: it finds `"name"` followed by a
/// colon and returns the value as text (a string's contents with `\"` and `\\` unescaped, or a
/// number or literal as written). It does not validate the JSON; it returns nil when the field is
/// missing, `null`, or not scannable.
public enum JSONLineField {
  /// The text of field `name` in `line`, if present.
  public static func value(named name: String, in line: [UInt8]) -> String? {
    let pattern = Array("\"\(name)\"".utf8)
    guard !pattern.isEmpty, line.count > pattern.count else { return nil }
    var start = 0
    while let found = firstIndex(of: pattern, in: line, from: start) {
      var index = skipSpaces(line, from: found + pattern.count)
      if index < line.count, line[index] == UInt8(ascii: ":") {
        index = skipSpaces(line, from: index + 1)
        return scanValue(line, at: index)
      }
      start = found + 1
    }
    return nil
  }

  private static func scanValue(_ line: [UInt8], at start: Int) -> String? {
    guard start < line.count else { return nil }
    if line[start] == UInt8(ascii: "\"") {
      var bytes: [UInt8] = []
      var index = start + 1
      while index < line.count {
        let byte = line[index]
        if byte == UInt8(ascii: "\"") { return String(decoding: bytes, as: UTF8.self) }
        if byte == UInt8(ascii: "\\"), index + 1 < line.count {
          index += 1
          bytes.append(line[index])
        } else {
          bytes.append(byte)
        }
        index += 1
      }
      return nil  // unterminated string
    }
    var end = start
    while end < line.count,
      ![UInt8(ascii: ","), UInt8(ascii: "}"), UInt8(ascii: "]")]
        .contains(line[end])
    {
      end += 1
    }
    let text = String(decoding: line[start..<end], as: UTF8.self)
      .trimmingCharacters(in: .whitespaces)
    return text.isEmpty || text == "null" ? nil : text
  }

  private static func skipSpaces(_ line: [UInt8], from start: Int) -> Int {
    var index = start
    while index < line.count,
      line[index] == UInt8(ascii: " ") || line[index] == UInt8(ascii: "\t")
    {
      index += 1
    }
    return index
  }

  private static func firstIndex(of pattern: [UInt8], in line: [UInt8], from start: Int) -> Int? {
    guard line.count >= pattern.count, start <= line.count - pattern.count else { return nil }
    for index in start...(line.count - pattern.count)
    where line[index] == pattern[0] && line[index..<(index + pattern.count)].elementsEqual(pattern)
    {
      return index
    }
    return nil
  }
}
