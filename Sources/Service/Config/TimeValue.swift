import Foundation
import Stream

/// A point in time as users write it on the command line and in `pipeline.conf`.
public enum TimeValue {
  /// The forms accepted, for help texts and error messages.
  public static let forms =
    "RFC 3339 (1998-01-01T00:00:00Z), a date meaning midnight UTC (1998-01-01) or epoch "
    + "milliseconds"

  /// Milliseconds since the Unix epoch of `text`: RFC 3339 with a zone, a date `YYYY-MM-DD`
  /// (midnight UTC) or a whole number of epoch milliseconds; nil when it is none of those.
  public static func milliseconds(_ text: String) -> Int64? {
    let trimmed = text.trimmingCharacters(in: .whitespaces)
    if let milliseconds = Int64(trimmed) { return milliseconds }
    if isDate(trimmed) { return EventTime.milliseconds(rfc3339: trimmed + "T00:00:00Z") }
    return EventTime.milliseconds(rfc3339: trimmed)
  }

  private static func isDate(_ text: String) -> Bool {
    let bytes = Array(text.utf8)
    guard bytes.count == 10, bytes[4] == UInt8(ascii: "-"), bytes[7] == UInt8(ascii: "-") else {
      return false
    }
    return bytes.enumerated().allSatisfy { index, byte in
      index == 4 || index == 7 || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
    }
  }
}
