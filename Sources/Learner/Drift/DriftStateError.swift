/// Why saved drift detector state could not be restored; `message` names the domain and the
/// tensor, says what was wrong and what to do.
public struct DriftStateError: Error, Sendable, Equatable, CustomStringConvertible {
  /// A sentence saying what was wrong, where, and what to do.
  public var message: String

  /// Creates an error explained by `message`.
  public init(_ message: String) {
    self.message = message
  }

  /// The message, prefixed for logs.
  public var description: String { "drift state: \(message)" }
}
