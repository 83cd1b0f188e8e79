/// Which kept row of the frozen layers' output an impression's batch may copy instead of running
/// those layers again (`FrozenRows` in the Learner): issued when the impression is scored, carried
/// with it through the joiner to its training copies. `none` finds nothing.
///
/// A hint, not a value: every ticket equals every other and adds nothing to a hash, so scores,
/// joined examples and training examples compare the same whatever their tickets (a restored
/// joiner, whose impressions have none, equals the running one). Snapshots do not keep it.
public struct FrozenRowTicket: Sendable, Hashable {
  /// The ring's number and the row's sequence in it; 0 for none.
  public var value: UInt64

  /// The ticket `value`.
  public init(_ value: UInt64) { self.value = value }

  /// No ticket.
  public static let none = FrozenRowTicket(0)

  /// Always true: a ticket never tells two scores or examples apart.
  public static func == (lhs: FrozenRowTicket, rhs: FrozenRowTicket) -> Bool { true }

  /// Adds nothing, as `==` tells nothing apart.
  public func hash(into hasher: inout Hasher) {}
}
