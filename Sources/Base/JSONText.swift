/// Helpers for writing JSON text by hand, where building a Foundation object would be wasteful.
public enum JSONText {
  /// Returns `value` as a JSON string literal, quotes included: `"` and `\` escaped, control
  /// characters as `\n`, `\r`, `\t` or `\u00XX`, everything else (non-ASCII too) kept as UTF-8.
  public static func quote(_ value: String) -> String {
    var bytes: [UInt8] = []
    bytes.reserveCapacity(value.utf8.count + 2)
    appendQuoted(value, to: &bytes)
    return String(decoding: bytes, as: UTF8.self)
  }

  /// Appends `quote(value)`'s UTF-8 bytes to `bytes`, a byte at a time: every character JSON
  /// escapes is ASCII, and no byte of a multi-byte UTF-8 sequence is.
  public static func appendQuoted(_ value: String, to bytes: inout [UInt8]) {
    func escaped(_ letter: UInt8) {
      bytes.append(UInt8(ascii: "\\"))
      bytes.append(letter)
    }
    bytes.append(UInt8(ascii: "\""))
    for byte in value.utf8 {
      switch byte {
      case UInt8(ascii: "\""), UInt8(ascii: "\\"): escaped(byte)
      case UInt8(ascii: "\n"): escaped(UInt8(ascii: "n"))
      case UInt8(ascii: "\r"): escaped(UInt8(ascii: "r"))
      case UInt8(ascii: "\t"): escaped(UInt8(ascii: "t"))
      case 0..<0x20:
        // `\u00XX`, lowercase hex digits.
        escaped(UInt8(ascii: "u"))
        bytes.append(UInt8(ascii: "0"))
        bytes.append(UInt8(ascii: "0"))
        bytes.append(hexDigit(byte >> 4))
        bytes.append(hexDigit(byte & 0xf))
      default: bytes.append(byte)
      }
    }
    bytes.append(UInt8(ascii: "\""))
  }

  /// The lowercase hex digit of `value` (below 16).
  private static func hexDigit(_ value: UInt8) -> UInt8 {
    value < 10 ? UInt8(ascii: "0") + value : UInt8(ascii: "a") + value - 10
  }

  /// Formats a finite number as JSON; non-finite values become `null`, which JSON requires.
  public static func number(_ value: Double) -> String {
    guard value.isFinite else { return "null" }
    if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
    return "\(value)"
  }
}
