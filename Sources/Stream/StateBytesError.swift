/// A joiner or router state that cannot be read back from bytes.
public struct StateBytesError: Error, Sendable, Equatable, CustomStringConvertible {
  /// What was wrong and at which byte.
  public var description: String

  /// Creates an error with a full explanation.
  public init(_ description: String) { self.description = description }
}
