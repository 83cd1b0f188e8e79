/// One `iak-stream` subcommand: its name, documentation, options and what it runs.
public struct CommandSpec: Sendable {
  /// The subcommand word, e.g. `replay`.
  public let name: String
  /// One line for the command list.
  public let summary: String
  /// The usage line(s), e.g. `iak-stream replay --input FILE [options]`.
  public let usage: String
  /// Paragraphs explaining what it does, shown by `--help`.
  public let details: String
  /// Options particular to this command (the common ones are added).
  public let options: [OptionSpec]
  /// Runs the command and returns its exit status; throws `UsageError` or `ConfigError` for
  /// mistakes, `ServiceError` for state or files the operator must fix (status 2), and any
  /// other error for failures (status 1).
  public let run: @Sendable (CommandContext) throws -> Int32

  /// Creates a command.
  public init(
    name: String, summary: String, usage: String, details: String, options: [OptionSpec],
    run: @escaping @Sendable (CommandContext) throws -> Int32
  ) {
    self.name = name
    self.summary = summary
    self.usage = usage
    self.details = details
    self.options = options
    self.run = run
  }

  /// Every option the command accepts: its own, then the common ones.
  public var allOptions: [OptionSpec] { options + OptionSpec.common }

  /// The text `iak-stream NAME --help` prints.
  public var help: String {
    var out = "\(summary)\n\nUsage: \(usage)\n\n\(details)\n\nOptions:\n"
    let rows = allOptions.map { option in
      (option.name + (option.valueName.map { " " + $0 } ?? ""), option.help)
    }
    let width = min(28, rows.map(\.0.count).max() ?? 0)
    for (left, right) in rows {
      let padding = String(repeating: " ", count: max(1, width - left.count + 2))
      out += "  \(left)\(padding)\(right)\n"
    }
    return out
  }
}
