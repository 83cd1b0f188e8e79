#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// A file-system operation that failed: at which stage, on which path, and the system's reason.
public struct StorageError: Error, Sendable, Equatable, CustomStringConvertible {
  /// The step that failed.
  public var stage: StorageStage
  /// The file or folder it failed on.
  public var path: String
  /// The `errno` value reported by the system (or injected by a test).
  public var code: Int32
  /// A sentence saying what failed and what to check.
  public var message: String

  /// Creates an error for `stage` on `path` with the system error `code`.
  public init(stage: StorageStage, path: String, code: Int32, action: String) {
    self.stage = stage
    self.path = path
    self.code = code
    self.message =
      "\(action) \(path) failed at stage \(stage.rawValue): \(StorageError.reason(code))"
      + StorageError.advice(code)
  }

  /// The system's text for an `errno` value.
  public static func reason(_ code: Int32) -> String {
    "\(String(cString: strerror(code))) (errno \(code))"
  }

  private static func advice(_ code: Int32) -> String {
    switch code {
    case EACCES, EPERM, EROFS: "; check that the folder exists and is writable by this user"
    case ENOSPC, EDQUOT: "; free disk space or lower checkpoint.keep"
    default: ""
    }
  }

  /// The message.
  public var description: String { message }

  /// The system's reason alone, for wrapping in another message.
  var reason: String { StorageError.reason(code) }
}
