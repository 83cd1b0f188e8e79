internal import COpenBLAS
import Foundation

/// The OpenBLAS library as loaded in this process: its kernel family and its threading.
///
/// Threading policy: the Learner calls BLAS from one training thread per process on small
/// matrices (batches of 8 to 512 rows, layers of 16 to 512 columns). Below a few hundred
/// megaflops per call, OpenBLAS's worker threads cost more in wake-ups than they win, and they
/// compete with the Kafka client and the metrics server for the same cores. The default is
/// therefore one BLAS thread (`useSingleThread()`), set once at start-up; `setThreadCount` lets a
/// benchmark measure the alternative. Measured on the 2-core development machine (default model,
/// SkylakeX kernels, 8 steps per batch): 1 thread 37.6k / 47.3k / 41.0k examples/s at batch
/// 32 / 128 / 512, 2 threads 43.2k / 44.5k / 48.9k: at most 1.2x for a whole second core that
/// the consumer and the metrics server then lose.
///
/// OpenBLAS picks its kernels (the "core") when the library is loaded. Some virtual machines hide
/// the CPU model, and the auto-detection then falls back to a generic core (e.g. Prescott) that is
/// several times slower. `OPENBLAS_CORETYPE` overrides the choice, but only before the library
/// loads, so the executable re-executes itself with the value `preferredCoreType(cpuFlags:)` picks.
public enum BLASRuntime {
  /// The name of the kernel family OpenBLAS chose at load time, e.g. "SkylakeX" or "Prescott".
  public static var coreName: String {
    guard let name = openblas_get_corename() else { return "unknown" }
    return String(cString: name)
  }

  /// The number of threads OpenBLAS uses for one call.
  public static var threadCount: Int { Int(openblas_get_num_threads()) }

  /// Sets the number of threads OpenBLAS uses for one call (at least 1).
  public static func setThreadCount(_ count: Int) {
    openblas_set_num_threads(Int32(max(1, count)))
  }

  /// Applies the Learner's default: one BLAS thread per training thread (see the type's notes).
  public static func useSingleThread() { setThreadCount(1) }

  /// The `OPENBLAS_CORETYPE` value to load OpenBLAS with for a CPU with these flags, or nil to
  /// let OpenBLAS detect the CPU itself.
  ///
  /// `cpuFlags` is the text of `/proc/cpuinfo` (or just its `flags` line); the choice is
  /// "SkylakeX" with `avx512f`, "Haswell" with `avx2`, otherwise nil.
  public static func preferredCoreType(cpuFlags: String) -> String? {
    let flags = Set(
      cpuFlags.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" }).map(String.init))
    if flags.contains("avx512f") { return "SkylakeX" }
    if flags.contains("avx2") { return "Haswell" }
    return nil
  }

  /// The `OPENBLAS_CORETYPE` for this machine, from the first `flags` line of `cpuInfoPath`;
  /// nil when the file cannot be read or no better core applies.
  public static func preferredCoreType(cpuInfoPath: String = "/proc/cpuinfo") -> String? {
    guard let data = FileManager.default.contents(atPath: cpuInfoPath) else { return nil }
    let text = String(decoding: data, as: UTF8.self)
    guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix("flags") }) else {
      return nil
    }
    return preferredCoreType(cpuFlags: String(line))
  }
}
