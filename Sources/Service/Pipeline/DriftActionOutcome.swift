import Learner

/// What the pipeline did in answer to a drift event: the action the policy asked for, the
/// action carried out (a rollback with no healthy earlier version retained becomes a reset) and,
/// for a reset or rollback, a sentence saying what the kernel became.
public struct DriftActionOutcome: Sendable, Equatable {
  /// The action `drift.on_collapse` / `drift.on_harm` asked for.
  public var requested: DriftAction
  /// The action carried out.
  public var taken: DriftAction
  /// For a rollback, the domain's kernel version whose weights are live again.
  public var restoredKernelVersion: Int?
  /// For a rollback, the snapshot the kernel was taken from.
  public var restoredFromSnapshot: Int?
  /// What was done, for the log and the alert (`action_detail`); nil for a plain alert.
  public var detail: String?

  /// Creates an outcome; by default the requested action was carried out as asked.
  public init(
    requested: DriftAction, taken: DriftAction? = nil, restoredKernelVersion: Int? = nil,
    restoredFromSnapshot: Int? = nil, detail: String? = nil
  ) {
    self.requested = requested
    self.taken = taken ?? requested
    self.restoredKernelVersion = restoredKernelVersion
    self.restoredFromSnapshot = restoredFromSnapshot
    self.detail = detail
  }
}
