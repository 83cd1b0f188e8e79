/// A parsed JSON value, kept close to the text so numbers are never rounded.
///
/// Object members keep their order of appearance; a duplicate key is a parse error.
enum JSONValue: Equatable, Sendable {
  case null
  case bool(Bool)
  /// The number's literal text, e.g. `"12"` or `"-1.5e3"`.
  case number(String)
  case string(String)
  case array([JSONValue])
  case object([(key: String, value: JSONValue)])

  static func == (lhs: JSONValue, rhs: JSONValue) -> Bool {
    switch (lhs, rhs) {
    case (.null, .null): true
    case (.bool(let a), .bool(let b)): a == b
    case (.number(let a), .number(let b)): a == b
    case (.string(let a), .string(let b)): a == b
    case (.array(let a), .array(let b)): a == b
    case (.object(let a), .object(let b)):
      a.count == b.count && zip(a, b).allSatisfy { $0.key == $1.key && $0.value == $1.value }
    default: false
    }
  }

  /// The members of an object, or nil for any other value.
  var members: [(key: String, value: JSONValue)]? {
    if case .object(let members) = self { return members }
    return nil
  }

  /// The value of member `key` of an object, or nil.
  subscript(key: String) -> JSONValue? {
    members?.first { $0.key == key }?.value
  }

  /// The string, or nil for any other value.
  var stringValue: String? {
    if case .string(let text) = self { return text }
    return nil
  }

  /// The elements of an array, or nil for any other value.
  var arrayValue: [JSONValue]? {
    if case .array(let elements) = self { return elements }
    return nil
  }

  /// The number as an exact integer, or nil if it is not one (fractions and exponents refused).
  var int64Value: Int64? {
    if case .number(let text) = self { return Int64(text) }
    return nil
  }

  /// A short name of the value's kind for error messages.
  var kindName: String {
    switch self {
    case .null: "null"
    case .bool: "a boolean"
    case .number: "a number"
    case .string: "a string"
    case .array: "an array"
    case .object: "an object"
    }
  }

  /// Returns `text` as a JSON string literal, quotes included; non-ASCII is kept as UTF-8.
  static func quoted(_ text: String) -> String {
    var out = "\""
    out.reserveCapacity(text.utf8.count + 2)
    for scalar in text.unicodeScalars {
      switch scalar {
      case "\"": out += "\\\""
      case "\\": out += "\\\\"
      case "\n": out += "\\n"
      case "\r": out += "\\r"
      case "\t": out += "\\t"
      default:
        if scalar.value < 0x20 {
          let hex = String(scalar.value, radix: 16)
          out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
        } else {
          out.unicodeScalars.append(scalar)
        }
      }
    }
    out += "\""
    return out
  }

  /// Compact JSON text of the value, members in their stored order.
  var text: String {
    switch self {
    case .null: return "null"
    case .bool(let flag): return flag ? "true" : "false"
    case .number(let literal): return literal
    case .string(let string): return JSONValue.quoted(string)
    case .array(let elements): return "[" + elements.map(\.text).joined(separator: ",") + "]"
    case .object(let members):
      return "{"
        + members.map { JSONValue.quoted($0.key) + ":" + $0.value.text }
        .joined(separator: ",") + "}"
    }
  }
}
