import Foundation

/// Reads the typed values of schema keys out of the checked text values, and notes every key
/// it reads, so that a test can tell that each schema key has a typed field.
///
/// Every value it reads was checked against its `ConfigKind` when it was set, so a parse
/// cannot fail; a key the values do not hold is a programming error (a typo in a field's key)
/// and traps when the first configuration is made.
struct SettingsReader {
  /// The checked text of every schema key.
  let values: [String: String]
  /// The keys read so far, in order.
  private(set) var keysRead: [String] = []

  /// A reader over `values`.
  init(_ values: [String: String]) { self.values = values }

  /// The text of `key`, as written (trimmed when it was set).
  mutating func text(_ key: String) -> String {
    guard let value = values[key] else { preconditionFailure("no configuration key '\(key)'") }
    keysRead.append(key)
    return value
  }

  /// A whole-number key.
  mutating func int(_ key: String) -> Int { parsed(key) { Int($0) } }

  /// A real-number key.
  mutating func double(_ key: String) -> Double { parsed(key) { Double($0) } }

  /// A boolean key.
  mutating func bool(_ key: String) -> Bool { parsed(key, ConfigValueParser.boolean) }

  /// A duration key.
  mutating func duration(_ key: String) -> Duration {
    .milliseconds(parsed(key, ConfigValueParser.milliseconds))
  }

  /// A size key, in bytes.
  mutating func bytes(_ key: String) -> Int { parsed(key, ConfigValueParser.bytes) }

  /// A list key.
  mutating func list(_ key: String) -> [String] { ConfigValueParser.list(text(key)) }

  /// A choice key, as the enumeration whose raw values are its words.
  mutating func choice<Value: RawRepresentable>(_ key: String, as type: Value.Type) -> Value
  where Value.RawValue == String {
    parsed(key) { Value(rawValue: $0) }
  }

  /// A key parsed by `parse`, which cannot fail on a checked value.
  mutating func parsed<Value>(_ key: String, _ parse: (String) -> Value?) -> Value {
    let value = text(key).trimmingCharacters(in: .whitespaces)
    guard let result = parse(value) else {
      preconditionFailure("configuration key '\(key)' holds an unchecked value")
    }
    return result
  }
}
