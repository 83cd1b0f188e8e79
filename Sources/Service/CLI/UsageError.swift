/// A mistake on the command line; the tool prints it with a hint and exits with status 2.
public struct UsageError: Error, Sendable, Equatable, CustomStringConvertible {
  /// What was wrong and what to type instead.
  public let message: String

  /// Creates a usage error.
  public init(_ message: String) { self.message = message }

  /// The message.
  public var description: String { message }
}
