import Foundation

/// What the kernel says about this process's memory (Linux `/proc/self/status`).
enum ProcessMemory {
  /// The resident set size (`VmRSS`) in bytes, or nil where `/proc` has no such line.
  static var residentBytes: Int? { statusKilobytes("VmRSS").map { $0 * 1024 } }

  /// Asks glibc to hand the free memory of its heaps back to the kernel (`malloc_trim(0)`,
  /// looked up at run time: Swift's Glibc module does not declare it); false where there is no
  /// such function or nothing was released.
  @discardableResult
  static func trimAllocator() -> Bool {
    guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "malloc_trim") else {
      return false
    }
    typealias Trim = @convention(c) (Int) -> Int32
    return unsafeBitCast(symbol, to: Trim.self)(0) == 1
  }

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
