import Foundation

extension Process {
  /// Kills the process with SIGKILL if it still runs after `timeout`, so that a test reading its
  /// output or waiting for its exit never blocks forever (a killed process fails the test's
  /// exit-status checks instead).
  func killIfRunning(after timeout: Duration) {
    let pid = processIdentifier
    let seconds = Double(timeout.components.seconds)
    DispatchQueue.global().asyncAfter(deadline: .now() + seconds) { [weak self] in
      guard let self, self.isRunning, self.processIdentifier == pid else { return }
      kill(pid, SIGKILL)
    }
  }
}
