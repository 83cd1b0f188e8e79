/// A configuration problem, located in its file and line, with what to do about it.
public struct ConfigError: Error, Sendable, Equatable, CustomStringConvertible {
  /// Where the problem is: `pipeline.conf line 12`, or `--set` for an override.
  public let location: String
  /// What is wrong and how to fix it.
  public let message: String

  /// Creates an error at `location`.
  public init(location: String, message: String) {
    self.location = location
    self.message = message
  }

  /// `location: message`.
  public var description: String { "\(location): \(message)" }
}
