/// A `domain.*` setting that cannot be understood, with what was expected.
public struct DomainSpecError: Error, Sendable, Equatable, CustomStringConvertible {
  /// What was wrong, where, and what to write instead.
  public var description: String

  /// Creates an error with a full explanation.
  public init(_ description: String) { self.description = description }
}
