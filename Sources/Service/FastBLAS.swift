import Foundation
import Learner

/// Makes the fast OpenBLAS kernels the default.
///
/// OpenBLAS reads `OPENBLAS_CORETYPE` once, when the library loads, and does not recognise every
/// CPU (here it falls back to slow generic kernels). So before anything else the executable
/// picks the core type from /proc/cpuinfo and, when the variable is not set yet, re-executes
/// itself with it set. An operator's own `OPENBLAS_CORETYPE` is always respected.
public enum FastBLAS {
  /// Re-executes the process with `OPENBLAS_CORETYPE` set, when it is unset and this CPU has a
  /// known fast core type; returns only when no re-execution is needed or it failed.
  public static func reexecuteIfNeeded(arguments: [String]) {
    guard ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"] == nil,
      let coreType = BLASRuntime.preferredCoreType()
    else { return }
    setenv("OPENBLAS_CORETYPE", coreType, 1)
    var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) }
    argv.append(nil)
    execv("/proc/self/exe", &argv)
    // execv returned: keep running with the kernels OpenBLAS chose itself.
  }

  /// Uses one BLAS thread per training thread (the batches are small; see `BLASRuntime`).
  public static func configureThreads(_ count: Int) {
    BLASRuntime.setThreadCount(count)
  }
}
