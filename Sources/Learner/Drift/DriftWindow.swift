/// The stretch of a domain's stream a drift decision rests on, e.g. "2000 examples".
public struct DriftWindow: Sendable, Equatable, CustomStringConvertible {
  /// What the window counts.
  public enum Unit: String, Sendable {
    /// Optimiser steps of the kernel.
    case steps
    /// Scored examples of the domain.
    case examples
  }

  /// How many units the window spans.
  public var length: Int
  /// What it counts.
  public var unit: Unit

  /// Creates a window of `length` `unit`.
  public init(length: Int, unit: Unit) {
    self.length = length
    self.unit = unit
  }

  /// For example "2000 examples".
  public var description: String { "\(length) \(unit.rawValue)" }
}
