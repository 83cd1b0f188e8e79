import Dispatch

/// Work the consumer thread asks of the training thread, answered when done.
final class ServeRequest: Sendable {
  /// What to do.
  enum Kind: Sendable, Equatable {
    /// Snapshot, publish and commit now (partitions are about to be released).
    case checkpoint(reason: String)
    /// Take the final snapshot, publish, commit and end the training thread.
    case stop
  }

  /// What to do.
  let kind: Kind
  private let done = DispatchSemaphore(value: 0)

  /// Creates a request.
  init(_ kind: Kind) { self.kind = kind }

  /// Called by the training thread when the work is done (or cannot be done).
  func complete() { done.signal() }

  /// Waits until the request is complete; false after `seconds` without an answer.
  func wait(seconds: Double) -> Bool {
    done.wait(timeout: .now() + seconds) == .success
  }
}
