extension MovieLensConverter {
  /// The MovieLens age groups: `under18`, `18-24`, `25-34`, `35-44`, `45-49`, `50-55`, `56+`.
  public static func ageBucket(_ age: Int) -> String {
    switch age {
    case ..<18: "under18"
    case 18...24: "18-24"
    case 25...34: "25-34"
    case 35...44: "35-44"
    case 45...49: "45-49"
    case 50...55: "50-55"
    default: "56+"
    }
  }

  /// The release decade such as `1990s`, or `unknown` when the year is not a 4-digit number.
  public static func yearBucket(_ year: String) -> String {
    guard year.utf8.count == 4, let value = Int(year) else { return "unknown" }
    return "\(value / 10 * 10)s"
  }

  /// The region of a zip code: its first digit for US codes, `ca` for Canadian postal codes
  /// (which start with a letter), `other` for anything else.
  public static func region(zipCode: String) -> String {
    guard let first = zipCode.unicodeScalars.first, first.isASCII else { return "other" }
    switch first {
    case "0"..."9": return String(first)
    case "A"..."Z", "a"..."z": return "ca"
    default: return "other"
    }
  }
}
