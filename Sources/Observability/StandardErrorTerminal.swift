import Foundation
import Synchronization

/// Standard error shared by log lines and one updating status line (a progress bar).
///
/// On a terminal a progress reporter redraws its line in place, without a newline. A log line
/// written meanwhile must not be glued to it: the writer clears the status line, writes the log
/// line with its newline, then draws the status line again below it. Everything goes through
/// one lock, so lines from several threads never interleave.
public final class StandardErrorTerminal: Sendable {
  /// The process's standard error.
  public static let shared = StandardErrorTerminal { text in
    FileHandle.standardError.write(Data(text.utf8))
  }

  private static let clearLine = "\r\u{1B}[K"
  private let write: @Sendable (String) -> Void
  private let status = Mutex<String?>(nil)

  /// A writer that hands its bytes to `write` (standard error for `shared`; tests capture).
  public init(write: @escaping @Sendable (String) -> Void) {
    self.write = write
  }

  /// Writes `line` and a newline; a status line on show is cleared first and redrawn after.
  public func writeLine(_ line: String) {
    status.withLock { status in
      if let status {
        write(Self.clearLine + line + "\n" + status)
      } else {
        write(line + "\n")
      }
    }
  }

  /// Shows `line` as the status line, replacing the one on show.
  public func showStatus(_ line: String) {
    status.withLock { status in
      status = line
      write(Self.clearLine + line)
    }
  }

  /// Removes the status line, if one is on show.
  public func clearStatus() {
    status.withLock { status in
      guard status != nil else { return }
      status = nil
      write(Self.clearLine)
    }
  }
}
