extension Configuration {
  /// The text of a schema key as it was written, for what records or shows settings as text
  /// (snapshots record them so; the `config` command prints them); read settings through
  /// `settings`.
  public func string(_ key: String) -> String {
    guard let value = values[key] else { preconditionFailure("no configuration key '\(key)'") }
    return value
  }

  /// A `kafka.*` setting (without the prefix), if given.
  public func kafkaSetting(_ name: String) -> String? {
    kafka.last { $0.key == name }?.value
  }
}
