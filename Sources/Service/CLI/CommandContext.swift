import Foundation
import Observability

/// What a running command is given: its arguments, the configuration, a logger, the metrics
/// registry, the shutdown signal and its standard output.
public final class CommandContext: Sendable {
  /// The parsed command line.
  public let arguments: ParsedArguments
  /// The effective configuration.
  public let configuration: Configuration
  /// The root logger, configured from `log.*` and `--log-level`.
  public let logger: Logger
  /// The process's metrics.
  public let metrics: MetricsRegistry
  /// Set when SIGTERM or SIGINT arrives.
  public let shutdown: ShutdownSignal
  /// Where results go (standard output unless a test captures it).
  public let output: @Sendable (String) -> Void

  /// Creates a context.
  public init(
    arguments: ParsedArguments, configuration: Configuration, logger: Logger,
    metrics: MetricsRegistry, shutdown: ShutdownSignal,
    output: @escaping @Sendable (String) -> Void = CommandContext.standardOutput
  ) {
    self.arguments = arguments
    self.configuration = configuration
    self.logger = logger
    self.metrics = metrics
    self.shutdown = shutdown
    self.output = output
  }

  /// Writes text to standard output as it is (no newline added).
  public static let standardOutput: @Sendable (String) -> Void = { text in
    FileHandle.standardOutput.write(Data(text.utf8))
  }

  /// Writes one line of results.
  public func print(_ line: String) { output(line + "\n") }
}
