import Foundation

/// Turns event times into window names and ordinals, caching time-zone offsets and names.
struct RouterClock: Sendable {
  struct Window: Sendable {
    var name: String
    var ordinal: Int64
  }

  let window: DomainWindow
  /// Zone offsets change only on quarter hours in every real zone; cache per UTC quarter hour.
  private var offsetQuarter: Int64 = .min
  private var offsetSeconds: Int64 = 0
  private var lastOrdinal: Int64 = .min
  private var lastName = ""
  /// The local seconds of the month `lastName` names (`.month` windows), from its first second
  /// to the first of the next: an event inside it needs no date computed (events come in
  /// nearly in time order, and each is routed more than once).
  private var monthStart: Int64 = 1
  private var monthEnd: Int64 = 0

  init(window: DomainWindow) { self.window = window }

  mutating func window(at milliseconds: Int64) -> Window {
    switch window.kind {
    case .slots(let slots, let zone):
      let local = localSeconds(milliseconds, zone)
      let minute = Int(
        EventTime.floorDivide(local, 60) - EventTime.floorDivide(local, 86_400) * 1_440)
      let index = slots.lastIndex { $0.startMinute <= minute } ?? slots.count - 1
      return Window(name: slots[index].name, ordinal: Int64(index))
    case .every(let period):
      let ordinal = EventTime.floorDivide(milliseconds, period)
      if ordinal != lastOrdinal {
        let (start, overflow) = ordinal.multipliedReportingOverflow(by: period)
        lastName = Self.dateName(
          overflow ? milliseconds : start, withHour: period % 86_400_000 != 0)
        lastOrdinal = ordinal
      }
      return Window(name: lastName, ordinal: ordinal)
    case .month(let zone):
      let local = localSeconds(milliseconds, zone)
      if local >= monthStart && local < monthEnd {
        return Window(name: lastName, ordinal: lastOrdinal)
      }
      let day = EventTime.floorDivide(local, 86_400)
      let date = EventTime.civilDate(daysSinceEpoch: day)
      let ordinal = date.year * 12 + date.month - 1
      if ordinal != lastOrdinal {
        lastName = Self.pad(date.year, 4) + "-" + Self.pad(date.month, 2)
        lastOrdinal = ordinal
      }
      let firstDay = day - (date.day - 1)
      monthStart = firstDay * 86_400
      monthEnd = (firstDay + EventTime.daysIn(month: date.month, year: date.year)) * 86_400
      return Window(name: lastName, ordinal: ordinal)
    }
  }

  /// Seconds since the epoch shifted by the zone's offset at that instant ("local" seconds).
  private mutating func localSeconds(_ milliseconds: Int64, _ zone: TimeZone) -> Int64 {
    let seconds = EventTime.floorDivide(milliseconds, 1_000)
    let quarter = EventTime.floorDivide(seconds, 900)
    if quarter != offsetQuarter {
      offsetQuarter = quarter
      offsetSeconds = Int64(
        zone.secondsFromGMT(for: Date(timeIntervalSince1970: TimeInterval(seconds))))
    }
    return seconds + offsetSeconds
  }

  static func dateName(_ milliseconds: Int64, withHour: Bool) -> String {
    let seconds = EventTime.floorDivide(milliseconds, 1_000)
    let date = EventTime.civilDate(daysSinceEpoch: EventTime.floorDivide(seconds, 86_400))
    var name = pad(date.year, 4) + "-" + pad(date.month, 2) + "-" + pad(date.day, 2)
    if withHour {
      name += "T" + pad((seconds - EventTime.floorDivide(seconds, 86_400) * 86_400) / 3_600, 2)
    }
    return name
  }

  static func pad(_ value: Int64, _ width: Int) -> String {
    let text = String(value.magnitude)
    let padded = String(repeating: "0", count: max(0, width - text.count)) + text
    return value < 0 ? "-" + padded : padded
  }
}
