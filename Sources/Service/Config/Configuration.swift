import Foundation

/// The effective configuration: defaults, then a `pipeline.conf` file, then `--set` overrides.
///
/// Every value is checked against `ConfigSchema` when it is read, so the typed accessors cannot
/// fail on a loaded configuration; asking for a key the schema does not know is a programming
/// error and traps.
public struct Configuration: Sendable, Equatable {
  /// Raw values of every schema key (defaults filled in).
  public private(set) var values: [String: String]
  /// `kafka.*` settings with the prefix removed, in the order they were given.
  public private(set) var kafka: [(key: String, value: String)]
  /// Where each value came from: `default`, `path line N` or `--set`.
  public private(set) var origins: [String: String]

  /// The configuration with every default and no file.
  public init() {
    values = Dictionary(uniqueKeysWithValues: ConfigSchema.keys.map { ($0.name, $0.defaultValue) })
    origins = values.mapValues { _ in "default" }
    kafka = ConfigSchema.kafkaDefaults.map { (String($0.name.dropFirst(6)), $0.defaultValue) }
  }

  /// Reads `path` (or `./pipeline.conf` when nil; a missing default file means defaults) and
  /// applies `overrides` (`key=value`).
  ///
  /// - Throws: `ConfigError` naming the file, line and key of the first problem.
  public static func load(path: String?, overrides: [String]) throws(ConfigError) -> Configuration {
    var configuration = Configuration()
    let file = path ?? "pipeline.conf"
    if let text = try? String(contentsOfFile: file, encoding: .utf8) {
      try configuration.apply(text: text, source: file)
    } else if path != nil {
      throw ConfigError(
        location: file, message: "cannot read the configuration file (does it exist?)")
    }
    for override in overrides { try configuration.apply(override: override) }
    return configuration
  }

  /// Applies the `key = value` lines of `text`; `source` names it in errors.
  ///
  /// - Throws: `ConfigError` for a malformed line, an unknown key or a bad value.
  public mutating func apply(text: String, source: String) throws(ConfigError) {
    var seen: [String: Int] = [:]
    for (offset, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false)
      .enumerated()
    {
      let location = "\(source) line \(offset + 1)"
      let line = Self.stripComment(String(rawLine)).trimmingCharacters(in: .whitespaces)
      if line.isEmpty { continue }
      guard let equals = line.firstIndex(of: "=") else {
        throw ConfigError(
          location: location, message: "expected 'key = value', found '\(line.prefix(60))'")
      }
      let key = line[..<equals].trimmingCharacters(in: .whitespaces)
      let value = line[line.index(after: equals)...].trimmingCharacters(in: .whitespaces)
      if let first = seen[key] {
        throw ConfigError(
          location: location,
          message: "key '\(key)' is already set on line \(first); keep one of them")
      }
      seen[key] = offset + 1
      try set(key, Self.unquote(value), location: location)
    }
  }

  /// Applies one `key=value` override, as given to `--set`.
  ///
  /// - Throws: `ConfigError` located at `--set` for a malformed override, unknown key or bad value.
  public mutating func apply(override: String) throws(ConfigError) {
    guard let equals = override.firstIndex(of: "=") else {
      throw ConfigError(
        location: "--set \(override)", message: "expected key=value, e.g. --set train.batch_max=32")
    }
    let key = override[..<equals].trimmingCharacters(in: .whitespaces)
    let value = override[override.index(after: equals)...].trimmingCharacters(in: .whitespaces)
    try set(key, Self.unquote(value), location: "--set \(key)")
  }

  private mutating func set(_ key: String, _ value: String, location: String) throws(ConfigError) {
    if ConfigSchema.isPassThrough(key) {
      let name = String(key.dropFirst("kafka.".count))
      guard !name.isEmpty else {
        throw ConfigError(location: location, message: "'kafka.' needs a librdkafka property name")
      }
      kafka.removeAll { $0.key == name }
      kafka.append((name, value))
      origins[key] = location
      return
    }
    guard let known = ConfigSchema.key(named: key) else {
      var message = "unknown key '\(key)'"
      if let suggestion = Self.closestKey(to: key) { message += " (did you mean '\(suggestion)'?)" }
      throw ConfigError(location: location, message: message)
    }
    guard ConfigValueParser.isValid(value, as: known.kind) else {
      throw ConfigError(
        location: location,
        message:
          "'\(key)' expects \(known.kind.expectation), got "
          + "'\(Self.displayed(key, String(value.prefix(80))))'")
    }
    values[key] = value
    origins[key] = location
  }

  /// The known key closest to `name` by edit distance, if close enough to be a typo.
  public static func closestKey(to name: String) -> String? {
    let candidates = ConfigSchema.keys.map(\.name)
    var best: (String, Int)?
    for candidate in candidates {
      let distance = EditDistance.between(name, candidate)
      if best == nil || distance < best!.1 { best = (candidate, distance) }
    }
    guard let (candidate, distance) = best, distance <= max(3, name.count / 3) else { return nil }
    return candidate
  }

  private static func stripComment(_ line: String) -> String {
    // A '#' starts a comment unless it is inside double quotes.
    var inQuotes = false
    for index in line.indices {
      let character = line[index]
      if character == "\"" { inQuotes.toggle() }
      if character == "#" && !inQuotes { return String(line[..<index]) }
    }
    return line
  }

  private static func unquote(_ value: String) -> String {
    if value.count >= 2 && value.hasPrefix("\"") && value.hasSuffix("\"") {
      return String(value.dropFirst().dropLast())
    }
    return value
  }

  /// Configurations are equal when their values and kafka settings are.
  public static func == (lhs: Configuration, rhs: Configuration) -> Bool {
    lhs.values == rhs.values && lhs.kafka.elementsEqual(rhs.kafka) { $0 == $1 }
  }
}
