/// The registry of `iak-stream` subcommands, in the order `--help` lists them.
public enum Commands {
  /// Every subcommand.
  public static let all: [CommandSpec] = [
    .serve, .replay, .pretrain, .score, .produce, .dataset, .broker, .kernels, .bench, .report,
    .config, .upgrade,
  ]

  /// The subcommand called `name`, if any.
  public static func named(_ name: String) -> CommandSpec? { all.first { $0.name == name } }
}
