/// Helpers for writing JSON text by hand, where building a Foundation object would be wasteful.
public enum JSONText {
  /// Returns `value` as a JSON string literal, quotes included: `"` and `\` escaped, control
  /// characters as `\n`, `\r`, `\t` or `\u00XX`, everything else (non-ASCII too) kept as UTF-8.
  public static func quote(_ value: String) -> String {
    var out = "\""
    out.reserveCapacity(value.utf8.count + 2)
    for scalar in value.unicodeScalars {
      switch scalar {
      case "\"": out += "\\\""
      case "\\": out += "\\\\"
      case "\n": out += "\\n"
      case "\r": out += "\\r"
      case "\t": out += "\\t"
      default:
        if scalar.value < 0x20 {
          let hex = String(scalar.value, radix: 16)
          out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
        } else {
          out.unicodeScalars.append(scalar)
        }
      }
    }
    out += "\""
    return out
  }

  /// Formats a finite number as JSON; non-finite values become `null`, which JSON requires.
  public static func number(_ value: Double) -> String {
    guard value.isFinite else { return "null" }
    if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
    return "\(value)"
  }
}
