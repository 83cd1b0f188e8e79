/// A MovieLens source file that cannot be read or does not have the expected shape.
public struct MovieLensError: Error, Sendable, Equatable, CustomStringConvertible {
  /// What was wrong, where, and what to do about it.
  public var description: String

  /// Creates an error with a full explanation.
  public init(_ description: String) { self.description = description }
}
