import Foundation
import Learner

/// Makes the fast OpenBLAS kernels the default.
///
/// OpenBLAS reads `OPENBLAS_CORETYPE` once, when the library loads, and does not recognise every
/// CPU (here it falls back to slow generic kernels). So before anything else the executable
/// picks the core type from /proc/cpuinfo and, when the variable is not set yet, re-executes
/// itself with it set. An operator's own `OPENBLAS_CORETYPE` is always respected.
public enum FastBLAS {
  /// Sets `OPENBLAS_CORETYPE` when it is unset and this CPU has a known fast core type;
  /// returns whether it did, in which case the process must re-execute itself for OpenBLAS to
  /// read it (`ProcessStart.prepare(arguments:)` does).
  static func prepareCoreType() -> Bool {
    guard ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"] == nil,
      let coreType = BLASRuntime.preferredCoreType()
    else { return false }
    setenv("OPENBLAS_CORETYPE", coreType, 1)
    return true
  }

  /// Uses one BLAS thread per training thread (the batches are small; see `BLASRuntime`).
  public static func configureThreads(_ count: Int) {
    BLASRuntime.setThreadCount(count)
  }
}
