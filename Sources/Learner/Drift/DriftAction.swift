/// What the service does to a domain's kernel in answer to drift events.
///
/// The first four are the choices of `drift.on_collapse` and `drift.on_harm`; `reactivate` is
/// the policy's answer when the detector whose firing deactivated a kernel clears.
public enum DriftAction: String, Sendable, CaseIterable {
  /// Log, count and publish the alert; leave the kernel alone.
  case alert
  /// Publish the kernel with `active=true` again (after a `deactivate` whose cause cleared).
  case reactivate
  /// Publish the kernel with `active=false`, so serving falls back to the backbone.
  case deactivate
  /// Restore and republish the newest earlier version that was healthy.
  case rollback
  /// Start the kernel from zero (it then equals the backbone) and republish it.
  case reset

  /// How much of the current kernel the action distrusts, for choosing one action among many:
  /// alert < reactivate < deactivate < rollback < reset.
  public var strength: Int {
    switch self {
    case .alert: 0
    case .reactivate: 1
    case .deactivate: 2
    case .rollback: 3
    case .reset: 4
    }
  }
}
