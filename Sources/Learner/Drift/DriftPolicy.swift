/// Maps drift events to the action the service must take, from `drift.on_collapse` and
/// `drift.on_harm`. Pure: the same events and firing detectors give the same action.
///
/// - A firing of `collapse` asks for `onCollapse`, a firing of `harm` for `onHarm`, any other
///   firing (informational signals, KL runaway, data drift) for `alert`.
/// - A clearing asks for `reactivate` when its detector's action is `deactivate` and no other
///   firing detector still asks for `deactivate`; otherwise for `alert` (a reset or a rollback
///   has nothing to undo).
/// - For several events at once, the strongest action wins (`DriftAction.strength`).
public struct DriftPolicy: Sendable, Equatable {
  /// The action when `collapse` fires (`drift.on_collapse`).
  public var onCollapse: DriftAction
  /// The action when `harm` fires (`drift.on_harm`).
  public var onHarm: DriftAction

  /// Creates a policy; the defaults are those of `pipeline.conf`.
  public init(onCollapse: DriftAction = .alert, onHarm: DriftAction = .deactivate) {
    self.onCollapse = onCollapse
    self.onHarm = onHarm
  }

  /// The action a firing of `detector` asks for.
  public func actionOnFiring(of detector: DriftDetector) -> DriftAction {
    switch detector {
    case .collapse: onCollapse
    case .harm: onHarm
    default: .alert
    }
  }

  /// The action `event` asks for, given the detectors of its domain firing after it.
  public func action(for event: DriftEvent, firing: Set<DriftDetector>) -> DriftAction {
    let own = actionOnFiring(of: event.detector)
    switch event.transition {
    case .fired:
      return own
    case .cleared:
      guard own == .deactivate else { return .alert }
      let stillDeactivating = firing.contains {
        $0 != event.detector && actionOnFiring(of: $0) == .deactivate
      }
      return stillDeactivating ? .alert : .reactivate
    }
  }

  /// The one action for the events of one domain's observation (the strongest they ask for),
  /// or nil when there are none.
  public func action(for events: [DriftEvent], firing: Set<DriftDetector>) -> DriftAction? {
    events.map { action(for: $0, firing: firing) }.max { $0.strength < $1.strength }
  }
}
