/// Why `serve` stops with exit status 1, in the words its log shows ("stopped after a failure",
/// with the message as the `error`).
struct ServeFailure: Error, Sendable, Equatable, CustomStringConvertible {
  /// Which part of `serve` failed.
  enum Origin: Sendable, Equatable {
    /// The training thread: a record it could not hand on, or offsets that went backwards.
    case training
    /// The final snapshot at shutdown.
    case finalSnapshot
    /// The input (the consumer failed for good).
    case input
    /// A rebalance step that could not be done safely.
    case rebalance
  }

  /// Which part failed.
  let origin: Origin
  /// What went wrong and what to do, as logged.
  let message: String

  /// Creates a failure of `origin` described by `message`.
  init(_ origin: Origin, _ message: String) {
    self.origin = origin
    self.message = message
  }

  /// The message.
  var description: String { message }
}
