/// The firing state of one detector: it fires once its condition has held for `fireAfter` units
/// and clears only once the condition has been false for `clearAfter` units, so a condition that
/// flaps around its threshold produces one firing, not one per flap.
///
/// Positions are steps or example counts and never decrease; a position below the start of the
/// current run restarts that run there.
public struct DriftHysteresis: Sendable, Equatable {
  /// A change of the firing state.
  public struct Change: Sendable, Equatable {
    /// Fired or cleared.
    public var transition: DriftTransition
    /// Units the condition had held (on firing) or been false (on clearing).
    public var length: Int
  }

  /// Units the condition must hold before the detector fires (0 = at once).
  public let fireAfter: Int
  /// Units the condition must be false before a firing clears (0 = at once).
  public let clearAfter: Int
  /// Whether the detector is firing.
  public private(set) var isFiring = false
  /// Where the current run of holding conditions started; nil when the condition is false.
  public private(set) var holdingSince: Int?
  /// Where the current run of false conditions started while firing; nil otherwise.
  public private(set) var falseSince: Int?

  /// Creates a detector state that is not firing; negative counts are read as 0.
  public init(fireAfter: Int, clearAfter: Int) {
    self.fireAfter = max(0, fireAfter)
    self.clearAfter = max(0, clearAfter)
  }

  /// Creates a state from exported fields (see `DomainDriftMonitor.stateTensors`).
  init(fireAfter: Int, clearAfter: Int, isFiring: Bool, holdingSince: Int?, falseSince: Int?) {
    self.init(fireAfter: fireAfter, clearAfter: clearAfter)
    self.isFiring = isFiring
    self.holdingSince = holdingSince
    self.falseSince = isFiring ? falseSince : nil
  }

  /// Records whether the condition holds at `position`; returns the change it causes, if any.
  public mutating func update(holds: Bool, at position: Int) -> Change? {
    if holds {
      falseSince = nil
      if holdingSince.map({ position < $0 }) ?? true { holdingSince = position }
      let length = position - holdingSince!
      guard !isFiring, length >= fireAfter else { return nil }
      isFiring = true
      return Change(transition: .fired, length: length)
    }
    holdingSince = nil
    guard isFiring else { return nil }
    if falseSince.map({ position < $0 }) ?? true { falseSince = position }
    let length = position - falseSince!
    guard length >= clearAfter else { return nil }
    isFiring = false
    falseSince = nil
    return Change(transition: .cleared, length: length)
  }

  /// Forgets the current runs but keeps the firing state: the evidence so far no longer
  /// applies (the kernel was replaced), yet a firing must still be cleared by new evidence.
  public mutating func restartRuns() {
    holdingSince = nil
    falseSince = nil
  }
}
