/// Whether a drift event starts or ends a detector's firing.
public enum DriftTransition: String, Sendable {
  /// The condition held long enough: the detector is now firing.
  case fired
  /// The condition was false long enough: the detector no longer fires.
  case cleared
}
