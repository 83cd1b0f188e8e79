/// A parsed JSON value, kept close to the text so numbers are never rounded.
///
/// Object members keep their order of appearance; a duplicate key is a parse error.
public enum JSONValue: Equatable, Sendable {
  /// `null`.
  case null
  /// `true` or `false`.
  case bool(Bool)
  /// The number's literal text, e.g. `"12"` or `"-1.5e3"`.
  case number(String)
  /// A string, unescaped.
  case string(String)
  /// An array's elements.
  case array([JSONValue])
  /// An object's members in their order of appearance.
  case object([(key: String, value: JSONValue)])

  /// Whether both are the same value, object members compared in order.
  public static func == (lhs: JSONValue, rhs: JSONValue) -> Bool {
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
  public var members: [(key: String, value: JSONValue)]? {
    if case .object(let members) = self { return members }
    return nil
  }

  /// The value of member `key` of an object, or nil.
  public subscript(key: String) -> JSONValue? {
    members?.first { $0.key == key }?.value
  }

  /// The string, or nil for any other value.
  public var stringValue: String? {
    if case .string(let text) = self { return text }
    return nil
  }

  /// The elements of an array, or nil for any other value.
  public var arrayValue: [JSONValue]? {
    if case .array(let elements) = self { return elements }
    return nil
  }

  /// The number as an exact integer, or nil if it is not one (fractions and exponents refused).
  public var int64Value: Int64? {
    if case .number(let text) = self { return Int64(text) }
    return nil
  }

  /// The number as the nearest `Double`, or nil for any other value.
  public var doubleValue: Double? {
    if case .number(let text) = self { return Double(text) }
    return nil
  }

  /// The number as an exact `Int`, or nil if it is not one.
  public var intValue: Int? { int64Value.flatMap { Int(exactly: $0) } }

  /// The Boolean, or nil for any other value.
  public var boolValue: Bool? {
    if case .bool(let flag) = self { return flag }
    return nil
  }

  /// Parses `text` as one JSON value, or nil when it is not JSON (see `parse(_:)`).
  public init?(parsing text: String) {
    guard let value = try? JSONValue.parse(Array(text.utf8)) else { return nil }
    self = value
  }

  /// The members of an object whose values are numbers, as doubles; nil for any other value.
  public var numberMembers: [String: Double]? {
    guard let members else { return nil }
    var numbers: [String: Double] = [:]
    for (key, value) in members {
      if let number = value.doubleValue { numbers[key] = number }
    }
    return numbers
  }

  /// A short name of the value's kind for error messages.
  public var kindName: String {
    switch self {
    case .null: "null"
    case .bool: "a boolean"
    case .number: "a number"
    case .string: "a string"
    case .array: "an array"
    case .object: "an object"
    }
  }

  /// Compact JSON text of the value, members in their stored order.
  public var text: String {
    switch self {
    case .null: return "null"
    case .bool(let flag): return flag ? "true" : "false"
    case .number(let literal): return literal
    case .string(let string): return JSONText.quote(string)
    case .array(let elements): return "[" + elements.map(\.text).joined(separator: ",") + "]"
    case .object(let members):
      return "{"
        + members.map { JSONText.quote($0.key) + ":" + $0.value.text }
        .joined(separator: ",") + "}"
    }
  }
}

extension JSONValue {
  /// A whole number.
  public static func int<Integer: BinaryInteger>(_ value: Integer) -> JSONValue {
    .number(String(value))
  }

  /// A real number as `JSONText.number` writes it; `null` when it is not finite (JSON has no
  /// infinities or NaN).
  public static func double(_ value: Double) -> JSONValue {
    value.isFinite ? .number(JSONText.number(value)) : .null
  }

  /// An object whose members are `map`'s, sorted by key (so equal maps give equal text).
  public static func sortedObject(_ map: [String: JSONValue]) -> JSONValue {
    .object(map.sorted { $0.key < $1.key }.map { (key: $0.key, value: $0.value) })
  }
}
