/// Event times: parsing of RFC 3339 times (`2024-05-01T12:30:00.250+08:00`) into epoch milliseconds.
///
/// Written by hand so the decoder needs no Foundation formatter on its hot path.
public enum EventTime {
  /// The last millisecond of year 9999 UTC, the latest time an event may carry.
  public static let latestMilliseconds: Int64 = 253_402_300_799_999

  /// Returns the epoch milliseconds of `text`, or `nil` if it is not a full RFC 3339 date-time
  /// between 1970 and 9999. Fractions beyond milliseconds are truncated; a leap second (`:60`)
  /// rolls over into the next minute, as POSIX time does.
  public static func milliseconds(rfc3339 text: String) -> Int64? {
    var text = text
    return text.withUTF8 { milliseconds(rfc3339: $0) }
  }

  /// Returns the epoch milliseconds of the UTF-8 `bytes`, or `nil`; see `milliseconds(rfc3339:)`.
  public static func milliseconds(rfc3339 bytes: UnsafeBufferPointer<UInt8>) -> Int64? {
    var position = 0
    func number(_ digits: Int) -> Int64? {
      guard position + digits <= bytes.count else { return nil }
      var value: Int64 = 0
      for _ in 0..<digits {
        let byte = bytes[position]
        guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
        value = value * 10 + Int64(byte - UInt8(ascii: "0"))
        position += 1
      }
      return value
    }
    func expect(_ allowed: UInt8...) -> Bool {
      guard position < bytes.count, allowed.contains(bytes[position]) else { return false }
      position += 1
      return true
    }
    guard let year = number(4), expect(UInt8(ascii: "-")), let month = number(2),
      expect(UInt8(ascii: "-")), let day = number(2),
      expect(UInt8(ascii: "T"), UInt8(ascii: "t"), UInt8(ascii: " ")), let hour = number(2),
      expect(UInt8(ascii: ":")), let minute = number(2), expect(UInt8(ascii: ":")),
      let second = number(2)
    else { return nil }
    guard (1...12).contains(month), (1...daysIn(month: month, year: year)).contains(day),
      hour < 24, minute < 60, second <= 60
    else { return nil }
    var millisecond: Int64 = 0
    if position < bytes.count, bytes[position] == UInt8(ascii: ".") {
      position += 1
      var digits = 0
      while position < bytes.count, bytes[position] >= UInt8(ascii: "0"),
        bytes[position] <= UInt8(ascii: "9")
      {
        if digits < 3 { millisecond = millisecond * 10 + Int64(bytes[position] - 48) }
        digits += 1
        position += 1
      }
      guard digits > 0 else { return nil }
      for _ in digits..<max(digits, 3) { millisecond *= 10 }
    }
    var offsetMinutes: Int64 = 0
    if expect(UInt8(ascii: "Z"), UInt8(ascii: "z")) {
      offsetMinutes = 0
    } else if position < bytes.count,
      bytes[position] == UInt8(ascii: "+") || bytes[position] == UInt8(ascii: "-")
    {
      let sign: Int64 = bytes[position] == UInt8(ascii: "-") ? -1 : 1
      position += 1
      guard let offsetHour = number(2), expect(UInt8(ascii: ":")),
        let offsetMinute = number(2), offsetHour < 24, offsetMinute < 60
      else { return nil }
      offsetMinutes = sign * (offsetHour * 60 + offsetMinute)
    } else {
      return nil
    }
    guard position == bytes.count else { return nil }
    let days = daysSinceEpoch(year: year, month: month, day: day)
    let seconds = days * 86_400 + hour * 3_600 + minute * 60 + second - offsetMinutes * 60
    let result = seconds * 1_000 + millisecond
    guard result >= 0, result <= latestMilliseconds else { return nil }
    return result
  }

  /// Days from 1970-01-01 to the given proleptic Gregorian date (negative before 1970).
  static func daysSinceEpoch(year: Int64, month: Int64, day: Int64) -> Int64 {
    // Count from 0000-03-01 so the leap day falls at the end of each counted year.
    let shiftedYear = month <= 2 ? year - 1 : year
    let era = shiftedYear / 400
    let yearOfEra = shiftedYear - era * 400
    let shiftedMonth = (month + 9) % 12
    let dayOfYear = (153 * shiftedMonth + 2) / 5 + day - 1
    let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
    return era * 146_097 + dayOfEra - 719_468
  }

  static func daysIn(month: Int64, year: Int64) -> Int64 {
    switch month {
    case 2:
      let isLeap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
      return isLeap ? 29 : 28
    case 4, 6, 9, 11: return 30
    default: return 31
    }
  }
}

extension EventTime {
  /// The proleptic Gregorian date `days` after 1970-01-01 (negative before).
  public static func civilDate(daysSinceEpoch days: Int64) -> (
    year: Int64, month: Int64, day: Int64
  ) {
    let shifted = days + 719_468
    let era = (shifted >= 0 ? shifted : shifted - 146_096) / 146_097
    let dayOfEra = shifted - era * 146_097
    let yearOfEra = (dayOfEra - dayOfEra / 1_460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
    let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
    let shiftedMonth = (5 * dayOfYear + 2) / 153
    let day = dayOfYear - (153 * shiftedMonth + 2) / 5 + 1
    let month = shiftedMonth < 10 ? shiftedMonth + 3 : shiftedMonth - 9
    return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
  }

  /// `value / divisor` rounded towards negative infinity (`divisor` > 0).
  public static func floorDivide(_ value: Int64, _ divisor: Int64) -> Int64 {
    let quotient = value / divisor
    return (value % divisor < 0) ? quotient - 1 : quotient
  }
}
