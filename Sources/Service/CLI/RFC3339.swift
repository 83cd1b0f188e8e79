import Stream

/// Formats event times (milliseconds since the Unix epoch) as RFC 3339 timestamps in UTC,
/// without Foundation's formatters (which are neither cheap nor `Sendable`).
public enum RFC3339 {
  /// `milliseconds` since the Unix epoch as RFC 3339 in UTC, e.g. `1998-03-01T12:00:00Z`
  /// (with `.123` when the milliseconds are not zero).
  public static func string(milliseconds: Int64) -> String {
    let seconds = milliseconds >= 0 ? milliseconds / 1000 : (milliseconds - 999) / 1000
    let fraction = milliseconds - seconds * 1000
    let days = seconds >= 0 ? seconds / 86_400 : (seconds - 86_399) / 86_400
    let second = seconds - days * 86_400
    let (year, month, day) = EventTime.civilDate(daysSinceEpoch: days)
    func pad(_ value: Int64, _ width: Int) -> String {
      let text = String(value)
      return String(repeating: "0", count: max(0, width - text.count)) + text
    }
    var text =
      "\(pad(year, 4))-\(pad(month, 2))-\(pad(day, 2))T\(pad(second / 3600, 2)):"
      + "\(pad(second % 3600 / 60, 2)):\(pad(second % 60, 2))"
    if fraction != 0 { text += "." + pad(fraction, 3) }
    return text + "Z"
  }

  /// The calendar date of `milliseconds`, `YYYY-MM-DD`.
  public static func date(milliseconds: Int64) -> String {
    String(string(milliseconds: milliseconds).prefix(10))
  }

  /// Date and minute of `milliseconds`, `YYYY-MM-DD HH:MM` (for chart axes and tables).
  public static func minute(milliseconds: Int64) -> String {
    let text = string(milliseconds: milliseconds)
    return text.prefix(10) + " " + text.dropFirst(11).prefix(5)
  }
}
