extension DomainWindow {
  /// The instant, in UTC epoch milliseconds, that a rolling period's name reads as: `1998-03`
  /// its first day at 00:00, `1998-03-05` that day at 00:00, `1998-03-05T12` that hour; nil for
  /// any other name (a slot's, or a date that does not exist).
  ///
  /// It depends on the name alone, not on `domain.window`: the same name reads the same under
  /// any setting, so two names compare in time whatever window made them. A `month` period in a
  /// time zone other than UTC starts up to a day away from it.
  public static func nameStartMilliseconds(_ name: String) -> Int64? {
    guard let period = PeriodName(name) else { return nil }
    return period.startMilliseconds
  }

  /// A time after which no event falls in the period named `name` under this window: the
  /// period's end (for a month, a day later, whatever its time zone). Nil for slots (they
  /// recur every day) and for a name this window does not make (a month's name under `every`,
  /// a day's under `month`, an hour's under `every` whole days).
  public func latestEndMilliseconds(ofPeriodNamed name: String) -> Int64? {
    guard let period = PeriodName(name) else { return nil }
    switch kind {
    case .slots: return nil
    case .every(let milliseconds):
      // `RouterClock` names a period by its hour exactly when periods are not whole days.
      let hasHour = milliseconds % 86_400_000 != 0
      guard period.day != nil, (period.hour != nil) == hasHour else { return nil }
      return period.startMilliseconds.addingSaturated(milliseconds)
    case .month:
      guard period.day == nil else { return nil }
      let days = EventTime.daysIn(month: period.month, year: period.year) + 1
      return period.startMilliseconds.addingSaturated(days * 86_400_000)
    }
  }
}

/// A period's name as `RouterClock` writes it: `YYYY-MM`, `YYYY-MM-DD` or `YYYY-MM-DDTHH`.
private struct PeriodName {
  var year: Int64
  var month: Int64
  var day: Int64?
  var hour: Int64?

  init?(_ name: String) {
    let bytes = Array(name.utf8)
    guard [7, 10, 13].contains(bytes.count) else { return nil }
    func number(_ range: Range<Int>) -> Int64? {
      var value: Int64 = 0
      for byte in bytes[range] {
        guard byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") else { return nil }
        value = value * 10 + Int64(byte - UInt8(ascii: "0"))
      }
      return value
    }
    guard let year = number(0..<4), bytes[4] == UInt8(ascii: "-"), let month = number(5..<7),
      (1...12).contains(month)
    else { return nil }
    self.year = year
    self.month = month
    if bytes.count >= 10 {
      guard bytes[7] == UInt8(ascii: "-"), let day = number(8..<10),
        (1...EventTime.daysIn(month: month, year: year)).contains(day)
      else { return nil }
      self.day = day
    }
    if bytes.count == 13 {
      guard bytes[10] == UInt8(ascii: "T"), let hour = number(11..<13), hour < 24 else {
        return nil
      }
      self.hour = hour
    }
  }

  var startMilliseconds: Int64 {
    let days = EventTime.daysSinceEpoch(year: year, month: month, day: day ?? 1)
    return (days * 24 + (hour ?? 0)) * 3_600_000
  }
}
