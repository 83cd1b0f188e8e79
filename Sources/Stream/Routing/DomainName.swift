/// Turns text from event data into a safe part of a domain key.
///
/// A domain key becomes a tensor name, a Kafka key and part of file names, so each part keeps
/// only `A-Z a-z 0-9 . _ -`, never starts with `.` (a hidden file, `..`) or `-` (read as an
/// option by shell tools, as in a file `-rf.safetensors`) nor holds `..`, and is at most
/// `maxLength` bytes. Any change (a replaced character, truncation) appends `-` and a hash of the original,
/// so two different raw values do not end up with the same name by accident.
public enum DomainName {
  /// The longest sanitised part, in bytes.
  public static let maxLength = 48

  /// Returns `raw` made safe; `nil` if it is empty.
  public static func sanitise(_ raw: String, maxLength: Int = DomainName.maxLength) -> String? {
    guard !raw.isEmpty else { return nil }
    var bytes: [UInt8] = []
    var changed = false
    for scalar in raw.unicodeScalars {
      if bytes.count > maxLength {
        changed = true
        break
      }
      var byte = UInt8(ascii: "_")
      if scalar.isASCII, isSafe(UInt8(scalar.value)) {
        byte = UInt8(scalar.value)
      } else {
        changed = true
      }
      if byte == UInt8(ascii: "."), bytes.isEmpty || bytes.last == UInt8(ascii: ".") {
        byte = UInt8(ascii: "_")
        changed = true
      }
      if byte == UInt8(ascii: "-"), bytes.isEmpty {
        byte = UInt8(ascii: "_")
        changed = true
      }
      bytes.append(byte)
    }
    if bytes.count > maxLength { changed = true }
    guard changed else { return String(decoding: bytes, as: UTF8.self) }
    let suffix = "-" + hash(raw, hexDigits: 8)
    bytes = Array(bytes.prefix(max(1, maxLength - suffix.utf8.count)))
    return String(decoding: bytes, as: UTF8.self) + suffix
  }

  /// Whether `name` is already safe, i.e. `sanitise` would return it unchanged.
  public static func isSafe(_ name: String, maxLength: Int = DomainName.maxLength) -> Bool {
    sanitise(name, maxLength: maxLength) == name
  }

  /// The first `hexDigits` hex digits of the FNV-1a 64-bit hash of `text`'s UTF-8 bytes.
  static func hash(_ text: String, hexDigits: Int) -> String {
    var value: UInt64 = 0xCBF2_9CE4_8422_2325
    for byte in text.utf8 {
      value ^= UInt64(byte)
      value = value &* 0x0000_0100_0000_01B3
    }
    let hex = String(value, radix: 16)
    return String((String(repeating: "0", count: 16 - hex.count) + hex).prefix(hexDigits))
  }

  private static func isSafe(_ byte: UInt8) -> Bool {
    switch byte {
    case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
      UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "."), UInt8(ascii: "_"),
      UInt8(ascii: "-"):
      true
    default: false
    }
  }
}
