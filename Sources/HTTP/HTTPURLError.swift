/// Why a URL cannot be posted to by `HTTPPost`: it names the URL without its credentials or query.
public struct HTTPURLError: Error, Sendable, Equatable, CustomStringConvertible {
  /// What was wrong with the URL and what to use instead.
  public let message: String

  /// Creates the error.
  public init(_ message: String) { self.message = message }

  /// The message.
  public var description: String { message }
}
