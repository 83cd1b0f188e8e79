import Foundation

/// Parses the typed values of configuration keys; every parser returns nil on a bad value.
public enum ConfigValueParser {
  /// Parses a duration (`250ms`, `30s`, `10m`, `2h`, `7d`; a bare `0` is allowed) into milliseconds.
  public static func milliseconds(_ text: String) -> Int64? {
    let trimmed = text.trimmingCharacters(in: .whitespaces)
    if trimmed == "0" { return 0 }
    let units: [(String, Double)] = [
      ("ms", 1), ("s", 1000), ("m", 60_000), ("h", 3_600_000), ("d", 86_400_000),
    ]
    for (suffix, scale) in units where trimmed.hasSuffix(suffix) {
      let number = trimmed.dropLast(suffix.count).trimmingCharacters(in: .whitespaces)
      // "ms" also ends in "s": make sure the number part is numeric for the unit tried.
      guard let value = Double(number), value.isFinite, value >= 0 else { continue }
      let result = value * scale
      guard result < Double(Int64.max) else { return nil }
      return Int64(result.rounded())
    }
    return nil
  }

  /// Parses a size in bytes (`512`, `64KiB`, `10MiB`, `1GiB`, `1TiB`, `1KB`, `5MB`, `1GB`).
  public static func bytes(_ text: String) -> Int? {
    let trimmed = text.trimmingCharacters(in: .whitespaces)
    let units: [(String, Double)] = [
      ("KiB", 1024), ("MiB", 1_048_576), ("GiB", 1_073_741_824), ("TiB", 1_099_511_627_776),
      ("KB", 1000), ("MB", 1_000_000), ("GB", 1_000_000_000), ("B", 1), ("", 1),
    ]
    for (suffix, scale) in units where trimmed.hasSuffix(suffix) {
      let number = trimmed.dropLast(suffix.count).trimmingCharacters(in: .whitespaces)
      guard let value = Double(number), value.isFinite, value >= 0 else { continue }
      let result = value * scale
      guard result < Double(Int.max) else { return nil }
      return Int(result.rounded())
    }
    return nil
  }

  /// Parses `true`/`false`, `yes`/`no`, `on`/`off`, `1`/`0`.
  public static func boolean(_ text: String) -> Bool? {
    switch text.trimmingCharacters(in: .whitespaces).lowercased() {
    case "true", "yes", "on", "1": true
    case "false", "no", "off", "0": false
    default: nil
    }
  }

  /// Splits a comma-separated list, trimming blanks and dropping empty items.
  public static func list(_ text: String) -> [String] {
    text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter {
      !$0.isEmpty
    }
  }

  /// Parses `host:port` (IPv6 hosts in brackets, `[::1]:9464`).
  public static func hostPort(_ text: String) -> (host: String, port: UInt16)? {
    let trimmed = text.trimmingCharacters(in: .whitespaces)
    guard let colon = trimmed.lastIndex(of: ":") else { return nil }
    var host = String(trimmed[..<colon])
    guard let port = UInt16(trimmed[trimmed.index(after: colon)...]), !host.isEmpty else {
      return nil
    }
    if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
    return (host, port)
  }

  /// Parses an interval: a duration, or `N events`.
  public static func interval(_ text: String) -> CheckpointInterval? {
    let trimmed = text.trimmingCharacters(in: .whitespaces)
    if trimmed.hasSuffix("events") || trimmed.hasSuffix("event") {
      let number = trimmed.split(separator: " ").first.map(String.init) ?? ""
      guard let count = Int(number), count > 0 else { return nil }
      return .events(count)
    }
    guard let ms = milliseconds(trimmed), ms > 0 else { return nil }
    return .milliseconds(ms)
  }

  /// Whether `text` is a valid value of `kind`.
  public static func isValid(_ text: String, as kind: ConfigKind) -> Bool {
    let trimmed = text.trimmingCharacters(in: .whitespaces)
    switch kind {
    case .integer(let range): return Int(trimmed).map(range.contains) ?? false
    case .number(let range):
      return Double(trimmed).map { $0.isFinite && range.contains($0) } ?? false
    case .duration: return milliseconds(trimmed) != nil
    case .size(let range): return bytes(trimmed).map(range.contains) ?? false
    case .boolean: return boolean(trimmed) != nil
    case .text, .list: return true
    case .hostPort: return hostPort(trimmed) != nil
    case .choice(let words): return words.contains(trimmed)
    case .interval: return interval(trimmed) != nil
    case .time: return trimmed.isEmpty || TimeValue.milliseconds(trimmed) != nil
    }
  }
}

/// How often a checkpoint is taken: after an amount of wall time or of consumed events.
public enum CheckpointInterval: Sendable, Equatable {
  /// Every so many milliseconds.
  case milliseconds(Int64)
  /// Every so many consumed events.
  case events(Int)
}
