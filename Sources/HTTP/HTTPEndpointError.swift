/// Why the HTTP endpoint could not start.
public struct HTTPEndpointError: Error, Sendable, CustomStringConvertible {
  /// What went wrong and what to change.
  public let message: String
  /// The message.
  public var description: String { message }
}
