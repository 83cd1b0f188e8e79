/// A configuration problem, located in its file and line, with what to do about it; a whole
/// file is checked at once, so one error can carry the others found with it.
public struct ConfigError: Error, Sendable, Equatable, CustomStringConvertible {
  /// Where the problem is: `pipeline.conf line 12`, or `--set` for an override.
  public let location: String
  /// What is wrong and how to fix it.
  public let message: String
  /// Further problems found in the same configuration, in file order.
  public let others: [ConfigError]

  /// Creates an error at `location`.
  public init(location: String, message: String) {
    self.location = location
    self.message = message
    self.others = []
  }

  /// One error carrying every problem of `problems` (which must not be empty).
  public init(all problems: [ConfigError]) {
    precondition(!problems.isEmpty, "no configuration problem to report")
    let all = problems.flatMap(\.problems)
    location = all[0].location
    message = all[0].message
    others = Array(all.dropFirst())
  }

  /// This problem and the others, each without further ones.
  public var problems: [ConfigError] {
    [ConfigError(location: location, message: message)] + others.flatMap(\.problems)
  }

  /// `location: message`, one line per problem.
  public var description: String {
    problems.map { "\($0.location): \($0.message)" }.joined(separator: "\n")
  }
}
