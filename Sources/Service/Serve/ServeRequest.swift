import Base
import Dispatch
import Synchronization

/// Work the consumer thread asks of the training thread, answered when done.
final class ServeRequest: Sendable {
  /// What to do.
  enum Kind: Sendable {
    /// Snapshot, publish and commit now (partitions are about to be released).
    case checkpoint(reason: String)
    /// Take over a partition's state read from the state topic.
    case adopt(PartitionState)
    /// Forget the state of partitions that moved to another process.
    case release([TopicPartition])
    /// Read a partition again from `offset`, below its trained state's, keeping that state
    /// (its offsets went backwards: `--on-offset-reset resume-from-snapshot`).
    case rewind(TopicPartition, to: Int64)
    /// Take the final snapshot, publish, commit and end the training thread.
    case stop
  }

  /// What to do.
  let kind: Kind
  private let done = DispatchSemaphore(value: 0)
  private let outcome = Mutex<String?>(nil)

  /// Creates a request.
  init(_ kind: Kind) { self.kind = kind }

  /// Called by the training thread when the work is done (or cannot be done).
  func complete() { done.signal() }

  /// Called by the training thread when the work could not be done, with the reason.
  func fail(_ reason: String) {
    outcome.withLock { $0 = reason }
    done.signal()
  }

  /// Why the work could not be done (after `wait` returned true), if it could not.
  var failure: String? { outcome.withLock { $0 } }

  /// Waits until the request is complete; false after `seconds` without an answer.
  func wait(seconds: Double) -> Bool {
    done.wait(timeout: .now() + seconds) == .success
  }
}
