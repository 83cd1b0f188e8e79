/// Bytes that cannot be read back as what they claim to be (a joiner, router or trainer state).
public struct ByteReadError: Error, Sendable, Equatable, CustomStringConvertible {
  /// What was wrong and at which byte.
  public var description: String

  /// Creates an error with a full explanation.
  public init(_ description: String) { self.description = description }
}
