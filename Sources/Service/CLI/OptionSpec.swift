/// A command-line option a command accepts.
public struct OptionSpec: Sendable, Equatable {
  /// The option with its dashes, e.g. `--input`.
  public let name: String
  /// The placeholder of its value (`PATH`), or nil for a flag that takes none.
  public let valueName: String?
  /// One line on what it does, with its default.
  public let help: String
  /// Whether it may be given more than once.
  public let isRepeatable: Bool

  /// Creates an option taking a value.
  public static func value(
    _ name: String, _ valueName: String, _ help: String, repeatable: Bool = false
  ) -> OptionSpec {
    OptionSpec(name: name, valueName: valueName, help: help, isRepeatable: repeatable)
  }

  /// Creates a flag.
  public static func flag(_ name: String, _ help: String) -> OptionSpec {
    OptionSpec(name: name, valueName: nil, help: help, isRepeatable: false)
  }

  /// The options every command that reads the configuration accepts.
  public static let common: [OptionSpec] = [
    .value("--config", "PATH", "Configuration file (default ./pipeline.conf)"),
    .value("--set", "KEY=VALUE", "Override one configuration key (repeatable)", repeatable: true),
    .value("--log-level", "LEVEL", "trace, debug, info, warning or error (default log.level)"),
    .flag("--help", "Show this help"),
  ]
}
