import Foundation
import Observability

/// What the executable does first in `main`, before any thread of its own starts.
public enum ProcessStart {
  /// Set across the one re-execution for signals, so it never repeats.
  static let reexecutedMarker = "IAK_STREAM_SIGNALS_REEXECUTED"

  /// Blocks SIGTERM and SIGINT in this thread (every later thread inherits it; the signal thread
  /// takes them, see `ShutdownSignal`) and fixes glibc's mmap threshold (`GlibcAllocator`),
  /// then re-executes the process once when needed: for the
  /// fast OpenBLAS kernels (`FastBLAS`), or because a library started a thread before `main`
  /// that does not block the signals (OpenBLAS starts its pool when it is loaded; after the
  /// re-execution its threads inherit the block). Returns only when no re-execution is needed
  /// or it failed.
  public static func prepare(arguments: [String]) {
    ShutdownSignal.blockProcessSignals()
    GlibcAllocator.fixMappingThreshold()
    let wasReexecuted = getenv(reexecutedMarker) != nil
    unsetenv(reexecutedMarker)
    let needsBLAS = FastBLAS.prepareCoreType()
    let needsSignals = !wasReexecuted && ShutdownSignal.isUnblockedInAnotherThread
    guard needsBLAS || needsSignals else { return }
    if needsSignals { setenv(reexecutedMarker, "1", 1) }
    var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) }
    argv.append(nil)
    // The executable by its own path first: the kernel names the process after the file it
    // runs (`ps`, `top`, `pgrep iak-stream`), and through /proc/self/exe that name is `exe`.
    // The link is only the fallback (e.g. the file was replaced since it started).
    if let path = executablePath() { execv(path, &argv) }
    execv("/proc/self/exe", &argv)
    // execv returned: keep running as we are.
    unsetenv(reexecutedMarker)
  }

  /// The path of the running executable (the target of /proc/self/exe), nil where it cannot be
  /// read.
  static func executablePath() -> String? {
    var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
    let count = readlink("/proc/self/exe", &buffer, buffer.count - 1)
    guard count > 0 else { return nil }
    return String(
      decoding: buffer.prefix(count).map { UInt8(bitPattern: $0) }, as: UTF8.self)
  }
}
