import Foundation

/// glibc's allocator, as the service sets it up at start (`ProcessStart`) and as the soak reads
/// it. Its functions are looked up at run time: Swift's Glibc module does not declare
/// `malloc.h`. Each does nothing where the C library has no such function.
public enum GlibcAllocator {
  /// The size from which every allocation gets its own mapping (`mallopt(M_MMAP_THRESHOLD)`),
  /// given back to the kernel when it is freed: 128 KiB, glibc's own starting value.
  public static let mappingThresholdBytes = 128 * 1024

  /// Fixes glibc's mmap threshold at `mappingThresholdBytes` unless the environment sets it
  /// (`MALLOC_MMAP_THRESHOLD_`, or `glibc.malloc.mmap_threshold` in `GLIBC_TUNABLES`: the
  /// operator's choice stands). Returns whether it was set.
  ///
  /// Why: glibc starts at 128 KiB but raises the threshold to the size of each mapped block
  /// freed, up to 32 MiB. After the first checkpoints, whose encoded partition states are tens
  /// of megabytes, those buffers come from the heaps instead, and the pages they leave free
  /// mostly stay resident: a 6-minute soak at 2,000 domains grew from 973 to 1,631 MB of RSS
  /// with glibc's default and stayed at 870-1,020 MB with the threshold fixed, at the same
  /// throughput (docs/performance.md).
  @discardableResult
  public static func fixMappingThreshold(
    environment: [String: String] = ProcessInfo.processInfo.environment
  ) -> Bool {
    guard !isMappingThresholdSet(in: environment) else { return false }
    typealias SetOption = @convention(c) (Int32, Int32) -> Int32
    guard let mallopt = function("mallopt", as: SetOption.self) else { return false }
    let mmapThreshold: Int32 = -3  // M_MMAP_THRESHOLD in malloc.h
    return mallopt(mmapThreshold, Int32(mappingThresholdBytes)) == 1
  }

  /// Whether `environment` sets glibc's mmap threshold itself.
  static func isMappingThresholdSet(in environment: [String: String]) -> Bool {
    if environment["MALLOC_MMAP_THRESHOLD_"] != nil { return true }
    return (environment["GLIBC_TUNABLES"] ?? "").split(separator: ":").contains {
      $0.hasPrefix("glibc.malloc.mmap_threshold=")
    }
  }

  /// Hands the free memory of glibc's heaps back to the kernel (`malloc_trim(0)`); false where
  /// there is no such function or nothing was released.
  @discardableResult
  public static func trim() -> Bool {
    typealias Trim = @convention(c) (Int) -> Int32
    return function("malloc_trim", as: Trim.self)?(0) == 1
  }

  /// The bytes usable in the block at `pointer` (`malloc_usable_size`), nil where there is no
  /// such function.
  public static func usableSize(of pointer: UnsafeMutableRawPointer) -> Int? {
    typealias UsableSize = @convention(c) (UnsafeMutableRawPointer) -> Int
    return function("malloc_usable_size", as: UsableSize.self)?(pointer)
  }

  /// The C library's function `name`, as `type`.
  private static func function<Function>(_ name: String, as type: Function.Type) -> Function? {
    guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), name) else { return nil }
    return unsafeBitCast(symbol, to: type)
  }
}
