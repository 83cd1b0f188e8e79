/// What `RebalanceResponder` has seen of the group, as a value: whether partitions were
/// assigned yet, and the rebalance step that could not be done safely, if one could not.
/// Transitions are pure and return what the responder then does.
struct RebalanceState: Sendable, Equatable {
  /// What to do at an assignment.
  enum AssignAction: Sendable, Equatable {
    /// The first assignment: forget the restored state of partitions assigned elsewhere (with
    /// a state topic, which holds it).
    case forgetPartitionsOwnedElsewhere
    /// Nothing more.
    case ignore
  }

  /// Whether partitions were assigned at least once.
  private(set) var hasBeenAssigned = false
  /// Why the service must stop (the newest failed step), if it must.
  private(set) var failure: ServeFailure?

  /// Creates the state of a consumer not assigned yet.
  init() {}

  /// Partitions were assigned.
  mutating func assigned() -> AssignAction {
    defer { hasBeenAssigned = true }
    return hasBeenAssigned ? .ignore : .forgetPartitionsOwnedElsewhere
  }

  /// A rebalance step could not be done safely: the service stops with `failure` (a later one
  /// replaces it, so the newest is reported).
  mutating func stepFailed(_ failure: ServeFailure) {
    self.failure = failure
  }
}
