/// A failure of the service that is not a mistake on the command line: state that cannot be
/// read, state that does not fit this process, a file that cannot be read or written, settings
/// that leave nothing to do. It carries a code to act on, the words users see, and where it was
/// made.
///
/// The tool prints its message and exits with status 2, as for a usage error: each of them is
/// fixed by the operator (move a folder away, set a setting back), not by trying again.
public struct ServiceError: Error, Sendable, Equatable, CustomStringConvertible {
  /// What kind of failure it is, which decides what to do about it.
  public enum Code: String, Sendable, Hashable, CustomStringConvertible {
    /// Stored state (a snapshot, a partition state on the state topic, its chunks) is not
    /// readable as what it claims to be: reading it again gives the same.
    case stateUnreadable
    /// Stored state is readable but was made by another backbone, settings or partition, so
    /// this process cannot continue from it.
    case stateMismatch
    /// The settings leave the command nothing it can do (no topic to read, no input file).
    case configuration
    /// A file or folder could not be read or written.
    case io

    /// The code's name, such as `stateUnreadable`.
    public var description: String { rawValue }

    /// What an operator does about an error of this code.
    public var remedy: String {
      switch self {
      case .stateUnreadable:
        "move the unreadable state away (or let the next checkpoint replace it) and start again"
      case .stateMismatch:
        "run with the backbone and settings the state was written under, or start anew"
      case .configuration: "change the settings named in the message"
      case .io: "check that the path exists and can be read or written"
      }
    }
  }

  /// What went wrong, as a code.
  public var code: Code
  /// What went wrong, where, and what to do, in words (the text the tool prints).
  public var message: String
  /// The source file where the error was made.
  public var file: String
  /// The source line where the error was made.
  public var line: UInt

  /// Makes an error; `file` and `line` default to the caller's.
  public init(_ code: Code, _ message: String, file: String = #fileID, line: UInt = #line) {
    self.code = code
    self.message = message
    self.file = file
    self.line = line
  }

  /// The exit status of the tool when a command fails with it (2, as before the code existed).
  public var exitStatus: Int32 { 2 }

  /// The message, as the tool prints it.
  public var description: String { message }

  /// Two errors are equal when code and message match; where they were made is ignored.
  public static func == (lhs: ServiceError, rhs: ServiceError) -> Bool {
    lhs.code == rhs.code && lhs.message == rhs.message
  }
}
