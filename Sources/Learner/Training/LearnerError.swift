/// What went wrong in the Learner, with a message that says where and what to do.
public enum LearnerError: Error, Equatable, CustomStringConvertible {
  /// A setting is out of range or inconsistent.
  case invalidConfiguration(String)
  /// A stored model or kernel does not match what was expected.
  case invalidModel(String)
  /// Reading or writing a file failed.
  case io(String)

  /// The message.
  public var description: String {
    switch self {
    case .invalidConfiguration(let message): "invalid configuration: \(message)"
    case .invalidModel(let message): "invalid model: \(message)"
    case .io(let message): "I/O error: \(message)"
    }
  }
}
