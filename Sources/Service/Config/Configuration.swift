import Foundation
import Stream

/// The effective configuration: defaults, then a `pipeline.conf` file, then `--set` overrides.
///
/// Every value is checked against `ConfigSchema` when it is set, and `settings` holds them all as
/// typed values: readers use those, never the key names.
public struct Configuration: Sendable, Equatable {
  /// Raw values of every schema key (defaults filled in).
  public private(set) var values: [String: String]
  /// `kafka.*` settings with the prefix removed, in the order they were given.
  public private(set) var kafka: [(key: String, value: String)]
  /// Where each value came from: `default`, `path line N` or `--set`.
  public private(set) var origins: [String: String]
  /// Every schema key's value, typed; built again whenever a value is set.
  public private(set) var settings: Settings

  /// The configuration with every default and no file.
  public init() {
    values = Dictionary(uniqueKeysWithValues: ConfigSchema.keys.map { ($0.name, $0.defaultValue) })
    settings = Settings(values: values)
    origins = values.mapValues { _ in "default" }
    kafka = ConfigSchema.kafkaDefaults.map { (String($0.name.dropFirst(6)), $0.defaultValue) }
  }

  /// Reads `path` (or `./pipeline.conf` when nil; a missing default file means defaults),
  /// applies `overrides` (`key=value`) and checks the result as a whole (`problems()`): the
  /// same checks for every command, `config` included.
  ///
  /// - Throws: `ConfigError` naming the file, line and key of every problem found.
  public static func load(path: String?, overrides: [String]) throws(ConfigError) -> Configuration {
    var configuration = Configuration()
    var problems: [ConfigError] = []
    let file = path ?? "pipeline.conf"
    if let data = FileManager.default.contents(atPath: file) {
      let text = try Self.text(of: data, in: file)
      do throws(ConfigError) {
        try configuration.apply(text: text, source: file)
      } catch {
        problems.append(error)
      }
    } else if path != nil {
      throw ConfigError(
        location: file, message: "cannot read the configuration file (does it exist?)")
    }
    for override in overrides {
      do throws(ConfigError) {
        try configuration.apply(override: override)
      } catch {
        problems.append(error)
      }
    }
    problems += configuration.unknownKafkaNames()
    // Settings that depend on each other are checked once every value parsed.
    if problems.isEmpty { problems = configuration.problems() }
    if !problems.isEmpty { throw ConfigError(all: problems) }
    return configuration
  }

  /// The `kafka.*` names librdkafka does not know, each where it was set, unless
  /// `kafka.plugin.library.paths` loads plugins (an interceptor claims its own names, which only
  /// the client, with the plugin loaded, can check).
  func unknownKafkaNames() -> [ConfigError] {
    guard !kafka.contains(where: { $0.key == "plugin.library.paths" }) else { return [] }
    return kafka.compactMap { name, value in
      guard let refusal = KafkaConfiguration.refusal(ofKey: name, value: value),
        refusal.isUnknownName
      else { return nil }
      let key = "kafka." + name
      return Self.kafkaRefusal(key, value, refusal, location: origins[key] ?? "configuration")
    }
  }

  /// The error for a `kafka.*` key librdkafka refuses.
  static func kafkaRefusal(
    _ key: String, _ value: String, _ refusal: KafkaConfiguration.Refusal, location: String
  ) -> ConfigError {
    ConfigError(
      location: location,
      message:
        "librdkafka refuses '\(key)' (value '\(displayed(key, String(value.prefix(80))))'): "
        + "\(refusal.reason); see librdkafka's CONFIGURATION.md for its properties and values")
  }

  /// The text of a configuration file's bytes, without a UTF-8 byte order mark.
  ///
  /// - Throws: `ConfigError` at `file` when the bytes are not UTF-8, with the first bad byte.
  static func text(of data: Data, in file: String) throws(ConfigError) -> String {
    var bytes = Array(data)
    if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { bytes.removeFirst(3) }
    var parser = Unicode.UTF8.ForwardParser()
    var iterator = bytes.makeIterator()
    var offset = 0
    while true {
      switch parser.parseScalar(from: &iterator) {
      case .valid(let scalar): offset += scalar.count
      case .emptyInput: return String(decoding: bytes, as: UTF8.self)
      case .error:
        let byte = String(bytes[offset], radix: 16, uppercase: true)
        throw ConfigError(
          location: file,
          message:
            "the file exists but is not UTF-8 text (byte \(offset + data.count - bytes.count) is 0x"
            + "\(byte.count < 2 ? "0" + byte : byte)); save it as UTF-8")
      }
    }
  }

  /// Applies the `key = value` lines of `text`; `source` names it in errors. Every line is
  /// checked: the error thrown carries all the problems of the text, not only the first.
  ///
  /// - Throws: `ConfigError` for malformed lines, unknown keys or bad values.
  public mutating func apply(text: String, source: String) throws(ConfigError) {
    var seen: [String: Int] = [:]
    var problems: [ConfigError] = []
    // "\r\n" is one Character: a file saved on Windows splits into the same lines.
    let lines = text.split(omittingEmptySubsequences: false) { $0 == "\n" || $0 == "\r\n" }
    for (offset, rawLine) in lines.enumerated() {
      let location = "\(source) line \(offset + 1)"
      let line = Self.stripComment(String(rawLine)).trimmingCharacters(in: .whitespaces)
      if line.isEmpty { continue }
      guard let equals = line.firstIndex(of: "=") else {
        problems.append(
          ConfigError(
            location: location,
            message: "expected 'key = value', found '\(Self.redactedLine(line))'"))
        continue
      }
      let key = line[..<equals].trimmingCharacters(in: .whitespaces)
      let value = line[line.index(after: equals)...].trimmingCharacters(in: .whitespaces)
      if let first = seen[key] {
        problems.append(
          ConfigError(
            location: location,
            message: "key '\(key)' is already set on line \(first); keep one of them"))
        continue
      }
      seen[key] = offset + 1
      do throws(ConfigError) {
        try set(key, Self.unquote(value), location: location)
      } catch {
        problems.append(error)
      }
    }
    if !problems.isEmpty { throw ConfigError(all: problems) }
  }

  /// A malformed line as an error shows it: its first 60 characters, or only `key ...` when
  /// it names a secret (a `kafka.sasl.password: value` typo must not print the password).
  static func redactedLine(_ line: String) -> String {
    let name = line.prefix { !$0.isWhitespace && $0 != ":" }
    if ConfigKey.isSecret(String(name)) || ConfigKey.isSecret(line) {
      return "\(name) ... (the rest is not shown: it may hold a secret)"
    }
    return String(line.prefix(60))
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
      // A name librdkafka does not know may be a plugin's: `load` judges those once every
      // key is read (`unknownKafkaNames()`).
      if let refusal = KafkaConfiguration.refusal(ofKey: name, value: value),
        !refusal.isUnknownName
      {
        throw Self.kafkaRefusal(key, value, refusal, location: location)
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
    if let message = Settings.problem(key: key, value: value) {
      throw ConfigError(location: location, message: message)
    }
    values[key] = value
    origins[key] = location
    settings = Settings(values: values)
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
