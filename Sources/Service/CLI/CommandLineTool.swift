import Foundation
import Observability

/// Entry point of the `iak-stream` executable: finds the command, parses its options, loads the
/// configuration, runs it and maps the outcome to an exit status (0 success, 2 usage or
/// configuration error, 1 runtime failure).
public enum CommandLineTool {
  /// The version printed by `--version` and recorded in published kernels.
  public static let version = "0.1.0"

  /// Runs the command named in `arguments` (argv, program name first) and returns the status.
  public static func main(
    arguments: [String],
    output: @escaping @Sendable (String) -> Void = CommandContext.standardOutput,
    errorOutput: @escaping @Sendable (String) -> Void = { Logger.standardError($0) }
  ) -> Int32 {
    let words = Array(arguments.dropFirst())
    guard let first = words.first, first != "--help", first != "-h", first != "help" else {
      if words.count >= 2, words[0] == "help", let command = Commands.named(words[1]) {
        output(command.help)
        return 0
      }
      output(overview)
      return words.isEmpty ? 2 : 0
    }
    if first == "--version" {
      output("iak-stream \(version)\n")
      return 0
    }
    guard let command = Commands.named(first) else {
      var message = "iak-stream: unknown command '\(first)'"
      if let best = Commands.all.map(\.name).min(by: {
        EditDistance.between(first, $0) < EditDistance.between(first, $1)
      }), EditDistance.between(first, best) <= 3 {
        message += " (did you mean '\(best)'?)"
      }
      errorOutput(message + "; run 'iak-stream --help' for the list")
      return 2
    }
    do {
      let parsed = try ParsedArguments.parse(Array(words.dropFirst()), options: command.allOptions)
      if parsed.has("--help") {
        output(command.help)
        return 0
      }
      let configuration = try Configuration.load(
        path: parsed.value("--config"), overrides: parsed.all("--set"))
      var level = configuration.settings.log.level
      if let text = parsed.value("--log-level") {
        guard let chosen = Logger.Level(name: text) else {
          throw UsageError(
            "--log-level expects trace, debug, info, warning or error, got '\(text)'")
        }
        level = chosen
      }
      FastBLAS.configureThreads(configuration.blasThreads)
      let format = configuration.settings.log.format
      let logger = Logger(label: command.name, level: level, format: format)
      let shutdown = ShutdownSignal()
      shutdown.installProcessHandlers()
      let context = CommandContext(
        arguments: parsed, configuration: configuration, logger: logger,
        metrics: MetricsRegistry(), shutdown: shutdown, output: output)
      return try command.run(context)
    } catch let error as UsageError {
      errorOutput("iak-stream \(command.name): \(error.message)")
      return 2
    } catch let error as ConfigError {
      errorOutput("iak-stream \(command.name): \(error.description)")
      return 2
    } catch let error as ServiceError {
      errorOutput("iak-stream \(command.name): \(error.message)")
      return error.exitStatus
    } catch {
      errorOutput("iak-stream \(command.name): \(error)")
      return 1
    }
  }

  /// The text of `iak-stream --help`.
  public static var overview: String {
    var out = """
      iak-stream \(version): streaming fine-tuning of per-domain IAK kernels on a frozen CTR
      backbone, fed by impression and click events from Kafka.

      Usage: iak-stream COMMAND [options]     (iak-stream COMMAND --help for its options)

      Commands:

      """
    let width = Commands.all.map(\.name.count).max() ?? 0
    for command in Commands.all {
      let padding = String(repeating: " ", count: width - command.name.count + 2)
      out += "  \(command.name)\(padding)\(command.summary)\n"
    }
    out += """

      Every command reads ./pipeline.conf (or --config PATH); --set key=value overrides a key.
      Exit status: 0 success, 1 runtime failure, 2 usage or configuration error.

      """
    return out
  }
}
