import Foundation

/// How event time is cut into domains (`domain.window`): recurring daily slots or rolling periods.
public struct DomainWindow: Sendable, Equatable {
  /// One recurring daily slot: from `startMinute` (minutes after local midnight) to the next.
  public struct Slot: Sendable, Equatable {
    /// The slot's name in domain keys, such as `s0600` or `lunch`.
    public var name: String
    /// Minutes after local midnight at which the slot starts.
    public var startMinute: Int

    /// Creates a slot.
    public init(name: String, startMinute: Int) {
      self.name = name
      self.startMinute = startMinute
    }
  }

  /// The kinds of window.
  public enum Kind: Sendable, Equatable {
    /// Daily slots in a time zone, sorted by start; the last runs past midnight to the first.
    case slots([Slot], TimeZone)
    /// Periods of a fixed length in milliseconds, aligned to the Unix epoch (UTC).
    case every(milliseconds: Int64)
    /// Calendar months in a time zone.
    case month(TimeZone)
  }

  /// The kind of window.
  public var kind: Kind

  /// Whether periods follow each other (a new one warm-starts from the last), unlike slots.
  public var isRolling: Bool {
    if case .slots = kind { return false }
    return true
  }

  /// Creates a window of `kind`.
  public init(kind: Kind) { self.kind = kind }

  /// Parses a `domain.window` value:
  /// - `slots 06:00 10:00 14:00 17:00 21:00 [tz=Asia/Shanghai]`, slots named `s0600` ...;
  ///   or named slots `slots breakfast=06:00 lunch=10:00 ...`;
  /// - `every 7d` or `every 12h` (periods aligned to 1970-01-01 UTC, named by their UTC start
  ///   `1998-03-05`, or `1998-03-05T12` when hours do not make whole days);
  /// - `month [tz=Europe/Paris]` (named `1998-03`; UTC unless a time zone is given).
  ///
  /// - Throws: `DomainSpecError` saying which word was wrong and what is expected.
  public init(parsing spec: String, key: String = "domain.window") throws(DomainSpecError) {
    let words = spec.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
    func failure(_ message: String) -> DomainSpecError {
      DomainSpecError("\(key) '\(spec)': \(message)")
    }
    var timeZone = TimeZone(identifier: "UTC")!
    var rest: [String] = []
    for word in words.dropFirst() {
      if word.hasPrefix("tz=") {
        let name = String(word.dropFirst(3))
        guard let zone = TimeZone(identifier: name) else {
          throw failure("unknown time zone '\(name)'; use an IANA name such as Asia/Shanghai")
        }
        timeZone = zone
      } else {
        rest.append(word)
      }
    }
    switch words.first {
    case "slots":
      var slots: [Slot] = []
      for word in rest {
        let parts = word.split(separator: "=", maxSplits: 1).map(String.init)
        guard let minute = Self.minuteOfDay(parts.last!) else {
          throw failure("'\(parts.last!)' is not a time of day; write HH:MM from 00:00 to 23:59")
        }
        var name = String(format: "s%02d%02d", minute / 60, minute % 60)
        if parts.count == 2 {
          name = parts[0]
          guard Self.isSlotName(name) else {
            throw failure("slot name '\(name)' must be 1-32 letters, digits, '_' or '-'")
          }
        }
        slots.append(Slot(name: name, startMinute: minute))
      }
      guard !slots.isEmpty else { throw failure("no slot times; write e.g. 'slots 06:00 17:00'") }
      slots.sort { $0.startMinute < $1.startMinute }
      for (earlier, later) in zip(slots, slots.dropFirst()) {
        if earlier.startMinute == later.startMinute {
          throw failure("two slots start at the same time (\(later.name))")
        }
      }
      if Set(slots.map(\.name)).count != slots.count { throw failure("slot names must differ") }
      kind = .slots(slots, timeZone)
    case "every":
      guard rest.count == 1, let period = Self.period(rest[0]) else {
        throw failure("expected 'every N' with N a whole number of days or hours, like 7d or 12h")
      }
      guard words.allSatisfy({ !$0.hasPrefix("tz=") }) else {
        throw failure("'every' periods are aligned to the epoch in UTC and take no tz=")
      }
      kind = .every(milliseconds: period)
    case "month":
      guard rest.isEmpty else { throw failure("'month' takes only an optional tz=ZONE") }
      kind = .month(timeZone)
    default:
      throw failure("expected 'slots HH:MM ... [tz=ZONE]', 'every Nd', 'every Nh' or 'month'")
    }
  }

  static func isSlotName(_ name: String) -> Bool {
    (1...32).contains(name.utf8.count)
      && name.utf8.allSatisfy {
        switch $0 {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
          UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "_"), UInt8(ascii: "-"):
          true
        default: false
        }
      }
  }

  static func minuteOfDay(_ text: String) -> Int? {
    let parts = text.split(separator: ":", omittingEmptySubsequences: false)
    guard parts.count == 2, parts[0].count == 2, parts[1].count == 2,
      let hour = Int(parts[0]), let minute = Int(parts[1]), (0..<24).contains(hour),
      (0..<60).contains(minute), parts.allSatisfy({ $0.allSatisfy(\.isASCII) })
    else { return nil }
    return hour * 60 + minute
  }

  static func period(_ text: String) -> Int64? {
    guard let unit = text.last, let count = Int64(text.dropLast()), count > 0,
      count <= 100_000
    else { return nil }
    switch unit {
    case "d": return count * 86_400_000
    case "h": return count * 3_600_000
    default: return nil
    }
  }
}
