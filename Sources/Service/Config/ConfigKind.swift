/// The type of a configuration value, which decides how it is parsed and checked.
public enum ConfigKind: Sendable, Equatable {
  /// A whole number within a range, e.g. `16`.
  case integer(ClosedRange<Int>)
  /// A real number within a range, e.g. `2e-4`.
  case number(ClosedRange<Double>)
  /// A duration with a unit: `250ms`, `30s`, `10m`, `2h`, `7d`.
  case duration
  /// A size in bytes with an optional unit (`512`, `64KiB`, `10MiB`, `1GB`) within a range.
  case size(ClosedRange<Int>)
  /// `true` or `false` (also `yes`/`no`, `on`/`off`).
  case boolean
  /// Free text (may be empty).
  case text
  /// A comma-separated list (may be empty).
  case list
  /// `host:port`, e.g. `127.0.0.1:9464`.
  case hostPort
  /// One of a fixed set of words.
  case choice([String])
  /// Either a duration (`30s`) or an event count (`5000 events`).
  case interval
  /// A point in time (`TimeValue`): RFC 3339, a date (midnight UTC) or epoch milliseconds;
  /// empty means no bound.
  case time

  /// What a value of this kind looks like, for error messages.
  public var expectation: String {
    switch self {
    case .integer(let range): "a whole number from \(range.lowerBound) to \(range.upperBound)"
    case .number(let range): "a number from \(range.lowerBound) to \(range.upperBound)"
    case .duration: "a duration such as 250ms, 30s, 10m, 2h or 7d"
    case .size(let range) where range == Self.anySize:
      "a size such as 512, 64KiB, 10MiB or 1GB"
    case .size(let range):
      "a size from \(Self.binary(range.lowerBound)) to \(Self.binary(range.upperBound)), in bytes "
        + "or with a unit (KiB, MiB, GiB, TiB, KB, MB, GB)"
    case .boolean: "true or false"
    case .text: "text"
    case .list: "a comma-separated list"
    case .hostPort: "host:port, such as 127.0.0.1:9464"
    case .choice(let words): "one of " + words.joined(separator: ", ")
    case .interval: "a duration such as 30s, or an event count such as '5000 events'"
    case .time: "a time: " + TimeValue.forms + ", or empty for none"
    }
  }

  /// Every size: what `.size` accepts when it has no narrower bound.
  public static let anySize = 0...Int.max

  /// `bytes` in the largest binary unit that divides it (`64KiB`, `1TiB`), else in bytes.
  static func binary(_ bytes: Int) -> String {
    for (unit, scale) in [("TiB", 1 << 40), ("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)]
    where bytes >= scale && bytes % scale == 0 {
      return "\(bytes / scale)\(unit)"
    }
    return "\(bytes)"
  }
}
