import Observability

extension Configuration {
  /// The value shown for `key`: secrets are masked, whatever their content, and URLs lose
  /// their credentials and query string.
  public static func displayed(_ key: String, _ value: String) -> String {
    if value.isEmpty { return value }
    if ConfigKey.isSecret(key) { return Redaction.mask }
    if ConfigKey.isURL(key) { return Redaction.url(value) }
    return value
  }

  /// The effective configuration as a `pipeline.conf` file, secrets masked, each line
  /// annotated with where its value came from.
  public func renderEffective() -> String {
    var out = "# Effective iak-stream configuration (secrets masked).\n"
    for section in ConfigSchema.sections {
      out += "\n# \(section.title)\n"
      if section.keys.first.map({ ConfigSchema.isPassThrough($0.name) }) ?? false {
        for (name, value) in kafka {
          let key = "kafka." + name
          out += "\(key) = \(Self.displayed(key, value))  # \(origins[key] ?? "default")\n"
        }
        continue
      }
      for key in section.keys {
        let value = Self.displayed(key.name, values[key.name] ?? "")
        out += "\(key.name) = \(value)  # \(origins[key.name] ?? "default")\n"
      }
    }
    return out
  }

  /// The documented default file: every key with its meaning, accepted values and default.
  public static func renderDefaults() -> String {
    var out = """
      # iak-stream pipeline configuration.
      #
      # `key = value` lines; `#` starts a comment. Every key is listed with its default.
      # `iak-stream CMD` reads ./pipeline.conf unless --config PATH is given, and
      # `--set key=value` overrides any key. `iak-stream config` validates a file and prints the
      # effective values. Durations: 250ms, 30s, 10m, 2h, 7d. Sizes: 512, 64KiB, 10MiB.

      """
    for section in ConfigSchema.sections {
      out += "\n# ---- \(section.title)\n"
      for key in section.keys {
        out += "\n# \(key.summary).\n"
        if case .text = key.kind {} else { out += "# Accepts \(key.kind.expectation).\n" }
        out += "\(key.name) = \(key.defaultValue)\n"
      }
    }
    return out
  }
}
