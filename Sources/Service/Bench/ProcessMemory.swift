import Foundation

/// What the kernel says about this process's memory (Linux `/proc/self/status`).
enum ProcessMemory {
  /// The resident set size (`VmRSS`) in bytes, or nil where `/proc` has no such line.
  static var residentBytes: Int? { statusKilobytes("VmRSS").map { $0 * 1024 } }

  /// The value of a `Name:   123 kB` line of `/proc/self/status`, in kilobytes.
  static func statusKilobytes(_ name: String) -> Int? {
    guard let text = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else {
      return nil
    }
    for line in text.split(separator: "\n") where line.hasPrefix(name + ":") {
      let fields = line.dropFirst(name.count + 1).split { $0 == " " || $0 == "\t" }
      return fields.first.flatMap { Int($0) }
    }
    return nil
  }
}
